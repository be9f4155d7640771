import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger, formatTextLine } from './log.ts';

/** Logs one record through createLogger and returns what reached the destination. */
function logOnce(format: 'json' | 'text'): string {
  const out = new PassThrough();
  let written = '';
  out.on('data', (chunk: Buffer) => { written += chunk.toString(); });
  createLogger({ format, destination: out }).info({ controller: 'ptemplate' }, 'hello');
  return written;
}

void describe('createLogger', () => {
  void it('writes JSON lines with an ISO time, the level by name and the pid', () => {
    const before = Date.now();
    const record = JSON.parse(logOnce('json')) as Record<string, unknown>;
    assert.match(String(record.time), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    const at = Date.parse(String(record.time));
    assert.ok(at >= before && at <= Date.now(), `${String(record.time)} is the time of the call`);
    assert.equal(record.level, 'info');
    assert.equal(record.pid, process.pid);
    assert.equal(record.msg, 'hello');
    assert.equal(record.controller, 'ptemplate');
  });

  void it('writes a readable line on a terminal: UTC time, level, message, fields', () => {
    assert.match(logOnce('text'), /^\d{2}:\d{2}:\d{2}\.\d{3} INFO {2}hello controller=ptemplate\n$/);
  });
});

void describe('formatTextLine', () => {
  void it('renders a record\'s epoch time as UTC and its error stack indented', () => {
    const line = JSON.stringify({ time: Date.parse('2026-01-02T03:04:05.678Z'), level: 50, msg: 'failed', err: { message: 'boom', stack: 'Error: boom\n    at x' } });
    assert.equal(formatTextLine(line), '03:04:05.678 ERROR failed\n  Error: boom\n      at x\n');
  });

  void it('passes a line that is not JSON through', () => {
    assert.equal(formatTextLine('not json'), 'not json');
  });
});

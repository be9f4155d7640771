// Structured logging: JSON lines in a cluster (log collectors parse them), a compact
// human-readable line on a terminal. Both come from the same pino records.
import { pino, type Logger, type LevelWithSilent } from 'pino';
import { isoTime } from './time.ts';

export type { Logger };
export type LogFormat = 'json' | 'text';

export interface LogOptions {
  level?: LevelWithSilent;
  /** Default: json inside a cluster or when stderr is not a terminal, text otherwise. */
  format?: LogFormat;
  destination?: NodeJS.WritableStream;
}

/** pino's isoTime without Date#toISOString (see time.ts). */
const isoTimestamp = () => `,"time":"${isoTime(Date.now())}"`;

const levelNames: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

export function defaultLogFormat(): LogFormat {
  return process.env.KUBERNETES_SERVICE_HOST || !process.stderr.isTTY ? 'json' : 'text';
}

/** Renders one pino JSON record as `15:04:05.000 INFO  controller msg key=value ...`. */
export function formatTextLine(line: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { time, level, msg, name, pid: _pid, hostname: _hostname, err, ...fields } = rec;
  const when = typeof time === 'number' ? isoTime(time).slice(11, 23) : '';
  const parts = [when, (levelNames[level as number] ?? String(level)).padEnd(5)];
  if (typeof name === 'string') parts.push(name);
  parts.push(typeof msg === 'string' ? msg : JSON.stringify(msg ?? ''));
  for (const [k, v] of Object.entries(fields)) parts.push(`${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  let out = parts.join(' ');
  if (typeof err === 'string') out += ` err=${err}`;
  else if (err && typeof err === 'object') {
    const e = err as { message?: string; stack?: string };
    out += `\n  ${(e.stack ?? e.message ?? JSON.stringify(err)).replace(/\n/g, '\n  ')}`;
  }
  return out + '\n';
}

export function createLogger(options: LogOptions = {}): Logger {
  const format = options.format ?? defaultLogFormat();
  const out = options.destination ?? process.stderr;
  const destination = format === 'json'
    ? out
    : { write: (chunk: string) => out.write(formatTextLine(chunk)) };
  return pino({
    level: options.level ?? 'info',
    base: format === 'json' ? { pid: process.pid } : {},
    timestamp: format === 'json' ? isoTimestamp : pino.stdTimeFunctions.epochTime,
    formatters: { level: (label) => (format === 'json' ? { level: label } : { level: pino.levels.values[label] ?? 30 }) },
  }, destination as pino.DestinationStream);
}

/** A logger that drops everything (tests, libraries used without a logger). */
export const silentLogger: Logger = pino({ level: 'silent' });

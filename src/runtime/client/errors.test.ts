// Classifying the API server's errors the way client-go's reflector does.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { apiErrorFrom, isResourceVersionTooLarge } from './errors.ts';

const error = (code: number, status: Parameters<typeof apiErrorFrom>[1]) => apiErrorFrom(code, status, 'LIST', '/api/v1/configmaps');

describe('isResourceVersionTooLarge', () => {
  it('recognises the ResourceVersionTooLarge cause, and the message of servers that sent no cause', () => {
    assert.ok(isResourceVersionTooLarge(error(504, { reason: 'Timeout', message: 'Too large resource version: 9, current: 8', details: { causes: [{ reason: 'ResourceVersionTooLarge' }] } })));
    assert.ok(isResourceVersionTooLarge(error(504, { reason: 'Timeout', details: { causes: [{ message: 'Too large resource version' }] } })));
    assert.ok(isResourceVersionTooLarge(error(504, { reason: 'Timeout', message: 'Too large resource version: 9, current: 8' })));
  });

  it('is false for other timeouts and errors', () => {
    assert.equal(isResourceVersionTooLarge(error(504, { reason: 'Timeout', message: 'request timed out' })), false);
    assert.equal(isResourceVersionTooLarge(error(500, { message: 'Too large resource version' })), false);
    assert.equal(isResourceVersionTooLarge(new Error('Too large resource version')), false);
  });
});

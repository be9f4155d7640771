import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExponentialFailureRateLimiter } from './ratelimiter.ts';

void test('backoff doubles per failure from 5 ms by default', () => {
  const limiter = new ExponentialFailureRateLimiter<string>();
  assert.deepEqual(
    Array.from({ length: 6 }, () => limiter.when('a')),
    [5, 10, 20, 40, 80, 160],
  );
  assert.equal(limiter.numRequeues('a'), 6);
});

void test('backoff is capped at 1000 s by default and stays there', () => {
  const limiter = new ExponentialFailureRateLimiter<string>();
  const delays = Array.from({ length: 2000 }, () => limiter.when('a'));
  assert.equal(delays[17], 5 * 2 ** 17); // 655.36 s: the last value under the cap
  assert.equal(delays[18], 1_000_000);
  // 2^n overflows to Infinity long before 2000 failures: the delay must still be the cap.
  assert.equal(delays.at(-1), 1_000_000);
});

void test('custom base and cap are honoured', () => {
  const limiter = new ExponentialFailureRateLimiter<string>(100, 350);
  assert.deepEqual(
    Array.from({ length: 4 }, () => limiter.when('a')),
    [100, 200, 350, 350],
  );
});

void test('a zero base never backs off', () => {
  const limiter = new ExponentialFailureRateLimiter<string>(0, 1000);
  const delays = Array.from({ length: 1100 }, () => limiter.when('a'));
  assert.ok(delays.every((d) => d === 0));
});

void test('forget resets backoff for that item only', () => {
  const limiter = new ExponentialFailureRateLimiter<string>();
  limiter.when('a');
  limiter.when('a');
  limiter.when('b');
  limiter.forget('a');
  assert.equal(limiter.numRequeues('a'), 0);
  assert.equal(limiter.when('a'), 5);
  assert.equal(limiter.numRequeues('b'), 1);
  assert.equal(limiter.when('b'), 10);
});

void test('negative delays are rejected', () => {
  assert.throws(() => new ExponentialFailureRateLimiter(-1), RangeError);
  assert.throws(() => new ExponentialFailureRateLimiter(5, Number.NaN), RangeError);
});

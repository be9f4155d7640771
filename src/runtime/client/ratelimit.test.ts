import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenBucket } from './ratelimit.ts';

describe('TokenBucket', () => {
  it('lets a burst through, then one request per 1/qps seconds, refilling with time', () => {
    let now = 0;
    const bucket = new TokenBucket(10, 3, () => now);
    assert.deepEqual([bucket.reserve(), bucket.reserve(), bucket.reserve()], [0, 0, 0]);
    assert.equal(Math.round(bucket.reserve()), 100, 'the fourth waits 100 ms at 10 qps');
    assert.equal(Math.round(bucket.reserve()), 200, 'the fifth waits behind it');
    now = 10_000;
    assert.equal(bucket.reserve(), 0, 'refilled after a quiet period, up to the burst');
  });

  it('refuses nonsense settings', () => {
    assert.throws(() => new TokenBucket(0, 1), RangeError);
    assert.throws(() => new TokenBucket(1, 0), RangeError);
  });
});

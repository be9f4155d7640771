import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../object.ts';
import type { ResourceType } from '../resource.ts';
import { permissionKeys } from '../rbac.ts';
import {
  bearerToken, delegatedAuthPermissions, DelegatingAuth, SubjectAccessReviews, TokenReviews, verbOf,
  type ReviewClient, type SubjectAccessReview, type TokenReview, type UserInfo,
} from './auth.ts';

/** An API server stand-in: known tokens, and a rule for which user may do what. */
class FakeReviews implements ReviewClient {
  readonly tokenReviews: string[] = [];
  readonly accessReviews: SubjectAccessReview['spec'][] = [];
  fail = false;
  readonly #tokens: Record<string, UserInfo>;
  readonly #allow: (spec: SubjectAccessReview['spec']) => boolean;

  constructor(tokens: Record<string, UserInfo>, allow: (spec: SubjectAccessReview['spec']) => boolean) {
    this.#tokens = tokens;
    this.#allow = allow;
  }

  async create<T extends KubeObject>(rt: ResourceType<T>, obj: T): Promise<T> {
    if (this.fail) throw new Error('connection refused');
    if (rt === (TokenReviews as ResourceType)) {
      const review = obj as unknown as TokenReview;
      this.tokenReviews.push(review.spec.token);
      const user = this.#tokens[review.spec.token];
      return { ...review, status: user ? { authenticated: true, user } : { authenticated: false, error: 'token not recognized' } } as unknown as T;
    }
    if (rt === (SubjectAccessReviews as ResourceType)) {
      const review = obj as unknown as SubjectAccessReview;
      this.accessReviews.push(review.spec);
      return { ...review, status: { allowed: this.#allow(review.spec), reason: 'by the fake' } } as unknown as T;
    }
    throw new Error(`unexpected create of ${rt.kind}`);
  }
}

const metrics = { path: '/metrics', verb: 'get' };
const reader: UserInfo = { username: 'system:serviceaccount:mon:prometheus', uid: 'u1', groups: ['system:serviceaccounts'], extra: { scope: ['a'] } };
const stranger: UserInfo = { username: 'system:serviceaccount:mon:other', groups: ['system:serviceaccounts'] };
const canReadMetrics = (spec: SubjectAccessReview['spec']) =>
  spec.user === reader.username && spec.nonResourceAttributes?.path === '/metrics' && spec.nonResourceAttributes.verb === 'get';

void describe('DelegatingAuth', () => {
  void it('answers 401 without a bearer token, without asking the API server', async () => {
    const reviews = new FakeReviews({}, () => true);
    const auth = new DelegatingAuth({ client: reviews });
    for (const header of [undefined, '', 'Basic dXNlcjpwYXNz', 'Bearer ', 'Bearer a b']) {
      const decision = await auth.check(header, metrics);
      assert.equal(decision.allowed, false);
      assert.equal(!decision.allowed && decision.code, 401, `header ${header}`);
    }
    assert.equal(reviews.tokenReviews.length, 0);
  });

  void it('answers 401 for a token the TokenReview does not accept', async () => {
    const auth = new DelegatingAuth({ client: new FakeReviews({}, () => true) });
    const decision = await auth.check('Bearer forged', metrics);
    assert.deepEqual(decision, { allowed: false, code: 401, message: 'Unauthorized: invalid bearer token: token not recognized' });
  });

  void it('answers 403 when the SubjectAccessReview does not allow the path', async () => {
    const auth = new DelegatingAuth({ client: new FakeReviews({ t2: stranger }, canReadMetrics) });
    const decision = await auth.check('Bearer t2', metrics);
    assert.equal(decision.allowed, false);
    assert.equal(!decision.allowed && decision.code, 403);
    assert.match(!decision.allowed ? decision.message : '', /user "system:serviceaccount:mon:other" cannot get path "\/metrics"/);
  });

  void it('allows an authorized user and asks about the user, its groups and the non-resource URL', async () => {
    const reviews = new FakeReviews({ t1: reader }, canReadMetrics);
    const auth = new DelegatingAuth({ client: reviews });
    assert.deepEqual(await auth.check('bearer t1', metrics), { allowed: true, user: reader });
    assert.deepEqual(reviews.tokenReviews, ['t1']);
    assert.deepEqual(reviews.accessReviews, [{
      user: reader.username, uid: 'u1', groups: ['system:serviceaccounts'], extra: { scope: ['a'] }, nonResourceAttributes: { path: '/metrics', verb: 'get' },
    }]);
    const other = await auth.check('Bearer t1', { path: '/debug', verb: 'get' });
    assert.equal(other.allowed, false, 'authorization is per path');
  });

  void it('caches decisions per token until they expire, denials for a shorter time', async () => {
    let now = 1_000_000;
    const reviews = new FakeReviews({ t1: reader, t2: stranger }, canReadMetrics);
    const auth = new DelegatingAuth({ client: reviews, allowTtlMs: 60_000, denyTtlMs: 10_000, now: () => now });
    await auth.check('Bearer t1', metrics);
    await auth.check('Bearer t2', metrics);
    await auth.check('Bearer bad', metrics);
    assert.equal(reviews.tokenReviews.length, 3);
    assert.equal(reviews.accessReviews.length, 2);

    now += 9_000;
    await auth.check('Bearer t1', metrics);
    await auth.check('Bearer t2', metrics);
    await auth.check('Bearer bad', metrics);
    assert.equal(reviews.tokenReviews.length, 3, 'all cached');
    assert.equal(reviews.accessReviews.length, 2);

    now += 2_000; // 11 s: denials expired, the allowed decision has not
    await auth.check('Bearer t1', metrics);
    await auth.check('Bearer t2', metrics);
    await auth.check('Bearer bad', metrics);
    assert.deepEqual(reviews.tokenReviews, ['t1', 't2', 'bad', 'bad'], 'an authenticated token stays cached; a rejected one is asked again');
    assert.equal(reviews.accessReviews.length, 3, 'the denied SubjectAccessReview is asked again');

    now += 50_000; // 61 s
    assert.equal((await auth.check('Bearer t1', metrics)).allowed, true);
    assert.deepEqual(reviews.tokenReviews.slice(4), ['t1']);
    assert.equal(reviews.accessReviews.length, 4);
  });

  void it('shares one review among concurrent requests with the same token', async () => {
    const reviews = new FakeReviews({ t1: reader }, canReadMetrics);
    const auth = new DelegatingAuth({ client: reviews });
    const decisions = await Promise.all(Array.from({ length: 5 }, () => auth.check('Bearer t1', metrics)));
    assert.ok(decisions.every((d) => d.allowed));
    assert.equal(reviews.tokenReviews.length, 1);
    assert.equal(reviews.accessReviews.length, 1);
  });

  void it('answers 500 when the API server cannot be asked, and does not cache that', async () => {
    const reviews = new FakeReviews({ t1: reader }, canReadMetrics);
    const auth = new DelegatingAuth({ client: reviews });
    reviews.fail = true;
    const failed = await auth.check('Bearer t1', metrics);
    assert.equal(!failed.allowed && failed.code, 500);
    reviews.fail = false;
    assert.equal((await auth.check('Bearer t1', metrics)).allowed, true);
  });

  void it('keeps at most maxEntries decisions', async () => {
    let now = 0;
    const reviews = new FakeReviews({ t1: reader }, canReadMetrics);
    const auth = new DelegatingAuth({ client: reviews, maxEntries: 2, now: () => now });
    await auth.check('Bearer t1', metrics);
    await auth.check('Bearer x1', metrics);
    await auth.check('Bearer x2', metrics); // evicts t1, the oldest
    now += 1;
    await auth.check('Bearer t1', metrics);
    assert.deepEqual(reviews.tokenReviews, ['t1', 'x1', 'x2', 't1']);
  });
});

void describe('auth helpers', () => {
  void it('maps HTTP methods to Kubernetes verbs', () => {
    assert.deepEqual(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'].map(verbOf), ['get', 'get', 'create', 'update', 'patch', 'delete']);
  });

  void it('reads bearer tokens', () => {
    assert.equal(bearerToken('Bearer abc.def'), 'abc.def');
    assert.equal(bearerToken('bearer   abc'), 'abc');
    assert.equal(bearerToken('Basic abc'), undefined);
  });

  void it('declares create on TokenReviews and SubjectAccessReviews', () => {
    assert.deepEqual([...permissionKeys(delegatedAuthPermissions())].sort(), [
      'create authentication.k8s.io/tokenreviews', 'create authorization.k8s.io/subjectaccessreviews',
    ]);
  });
});

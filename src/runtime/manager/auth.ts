// Delegated authentication and authorization for the manager's HTTPS endpoints, like
// controller-runtime's `filters.WithAuthenticationAndAuthorization`: the bearer token must pass a
// TokenReview, and its user must be allowed the request's verb on its path (a non-resource URL) by
// a SubjectAccessReview. Decisions are cached briefly, keyed by a hash of the token, so a scrape
// every few seconds costs the API server two requests a minute.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { silentLogger } from '../log.ts';
import type { KubeObject } from '../object.ts';
import { permission, type Permission } from '../rbac.ts';
import { defineResource, type ResourceType } from '../resource.ts';

export interface UserInfo {
  username?: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

export interface TokenReview extends KubeObject {
  spec: { token: string; audiences?: string[] };
  status?: { authenticated?: boolean; user?: UserInfo; audiences?: string[]; error?: string };
}

export interface SubjectAccessReview extends KubeObject {
  spec: {
    user?: string;
    uid?: string;
    groups?: string[];
    extra?: Record<string, string[]>;
    nonResourceAttributes?: { path: string; verb: string };
    resourceAttributes?: {
      namespace?: string; verb?: string; group?: string; version?: string; resource?: string; subresource?: string; name?: string;
    };
  };
  status?: { allowed: boolean; denied?: boolean; reason?: string; evaluationError?: string };
}

export const TokenReviews = defineResource<TokenReview>({
  group: 'authentication.k8s.io', version: 'v1', kind: 'TokenReview', plural: 'tokenreviews', namespaced: false,
});
export const SubjectAccessReviews = defineResource<SubjectAccessReview>({
  group: 'authorization.k8s.io', version: 'v1', kind: 'SubjectAccessReview', plural: 'subjectaccessreviews', namespaced: false,
});

/** What the delegated checks need in the manager's RBAC. */
export function delegatedAuthPermissions(): Permission[] {
  return [permission(TokenReviews, ['create']), permission(SubjectAccessReviews, ['create'])];
}

/** The part of the Client the checks use (tests pass a fake). */
/** Client.create, which fills in apiVersion and kind from the resource type. */
export interface ReviewClient {
  create<T extends KubeObject>(rt: ResourceType<T>, obj: T): Promise<T>;
}

export interface RequestAttributes {
  /** The URL path, without the query. */
  path: string;
  /** Kubernetes verb: get, create, update, patch, delete. */
  verb: string;
}

export type AuthDecision =
  | { allowed: true; user: UserInfo }
  | { allowed: false; code: 401 | 403 | 500; message: string };

export interface DelegatingAuthOptions {
  client: ReviewClient;
  /** How long an accepted token and an allowed request stay cached. Default 60 s. */
  allowTtlMs?: number;
  /** How long a rejected token and a denied request stay cached. Default 10 s (a new RoleBinding takes effect soon). */
  denyTtlMs?: number;
  /** Upper bound of cached decisions (random tokens must not grow memory). Default 4096. */
  maxEntries?: number;
  now?: () => number;
  log?: Logger;
}

type Authenticated = { ok: true; user: UserInfo } | { ok: false; message: string };
type Authorized = { ok: true } | { ok: false; message: string };

/** The Kubernetes verb of an HTTP method, as the API server maps non-resource requests. */
export function verbOf(method: string | undefined): string {
  switch ((method ?? 'GET').toUpperCase()) {
    case 'GET': case 'HEAD': return 'get';
    case 'POST': return 'create';
    case 'PUT': return 'update';
    case 'PATCH': return 'patch';
    case 'DELETE': return 'delete';
    default: return (method ?? '').toLowerCase();
  }
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

export class DelegatingAuth {
  readonly #client: ReviewClient;
  readonly #allowTtlMs: number;
  readonly #denyTtlMs: number;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #authn: TtlCache<Authenticated>;
  readonly #authz: TtlCache<Authorized>;

  constructor(options: DelegatingAuthOptions) {
    this.#client = options.client;
    this.#allowTtlMs = options.allowTtlMs ?? 60_000;
    this.#denyTtlMs = options.denyTtlMs ?? 10_000;
    this.#now = options.now ?? Date.now;
    this.#log = options.log ?? silentLogger;
    const max = options.maxEntries ?? 4096;
    this.#authn = new TtlCache(max, this.#now);
    this.#authz = new TtlCache(max, this.#now);
  }

  /** Decides a request from its Authorization header. Never throws: an API failure is a 500 decision. */
  async check(authorization: string | undefined, attributes: RequestAttributes): Promise<AuthDecision> {
    const token = bearerToken(authorization);
    if (!token) return { allowed: false, code: 401, message: 'Unauthorized: a bearer token is required' };
    const tokenHash = createHash('sha256').update(token).digest('hex');
    let authn: Authenticated;
    try {
      authn = await this.#authn.get(tokenHash, () => this.#authenticate(token), (r) => (r.ok ? this.#allowTtlMs : this.#denyTtlMs));
    } catch (err) {
      this.#log.error({ err }, 'TokenReview failed');
      return { allowed: false, code: 500, message: 'Internal Server Error: the token could not be reviewed' };
    }
    if (!authn.ok) return { allowed: false, code: 401, message: `Unauthorized: ${authn.message}` };
    const key = `${tokenHash}\0${attributes.verb}\0${attributes.path}`;
    let authz: Authorized;
    try {
      authz = await this.#authz.get(key, () => this.#authorize(authn.user, attributes), (r) => (r.ok ? this.#allowTtlMs : this.#denyTtlMs));
    } catch (err) {
      this.#log.error({ err }, 'SubjectAccessReview failed');
      return { allowed: false, code: 500, message: 'Internal Server Error: the request could not be authorized' };
    }
    if (!authz.ok) return { allowed: false, code: 403, message: `Forbidden: ${authz.message}` };
    return { allowed: true, user: authn.user };
  }

  async #authenticate(token: string): Promise<Authenticated> {
    // apiVersion and kind: the client fills them in from the resource type.
    const review = await this.#client.create(TokenReviews, { metadata: {}, spec: { token } });
    const status = review.status ?? {};
    if (!status.authenticated || !status.user) return { ok: false, message: status.error ? `invalid bearer token: ${status.error}` : 'invalid bearer token' };
    return { ok: true, user: status.user };
  }

  async #authorize(user: UserInfo, attributes: RequestAttributes): Promise<Authorized> {
    const review = await this.#client.create(SubjectAccessReviews, {
      metadata: {},
      spec: {
        ...(user.username !== undefined ? { user: user.username } : {}),
        ...(user.uid !== undefined ? { uid: user.uid } : {}),
        ...(user.groups ? { groups: user.groups } : {}),
        ...(user.extra ? { extra: user.extra } : {}),
        nonResourceAttributes: { path: attributes.path, verb: attributes.verb },
      },
    });
    const status = review.status;
    if (status?.allowed && !status.denied) return { ok: true };
    const who = `user "${user.username ?? ''}"`;
    return { ok: false, message: `${who} cannot ${attributes.verb} path "${attributes.path}"${status?.reason ? `: ${status.reason}` : ''}` };
  }
}

/**
 * Promise-valued cache: concurrent lookups of one key share a single request; a resolved value
 * lives for ttl(value); a rejection is not cached.
 */
class TtlCache<V> {
  readonly #entries = new Map<string, { expires: number; value: Promise<V> }>();
  readonly #max: number;
  readonly #now: () => number;

  constructor(max: number, now: () => number) {
    this.#max = max;
    this.#now = now;
  }

  get(key: string, load: () => Promise<V>, ttl: (value: V) => number): Promise<V> {
    const hit = this.#entries.get(key);
    if (hit && hit.expires > this.#now()) return hit.value;
    if (hit) this.#entries.delete(key);
    this.#makeRoom();
    const entry = { expires: Number.POSITIVE_INFINITY, value: load() };
    this.#entries.set(key, entry);
    entry.value.then(
      (value) => { entry.expires = this.#now() + ttl(value); },
      () => { if (this.#entries.get(key) === entry) this.#entries.delete(key); },
    );
    return entry.value;
  }

  #makeRoom(): void {
    if (this.#entries.size < this.#max) return;
    const now = this.#now();
    for (const [key, entry] of this.#entries) if (entry.expires <= now) this.#entries.delete(key);
    // Still full: drop the oldest entries (Map keeps insertion order).
    for (const key of this.#entries.keys()) {
      if (this.#entries.size < this.#max) break;
      this.#entries.delete(key);
    }
  }
}

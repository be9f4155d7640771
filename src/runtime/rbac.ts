// RBAC derived from code: the permissions a controller declares (what it watches and writes)
// become PolicyRules, and the client reports the permissions its requests actually needed, so a
// test can prove the generated role is complete.
import type { ResourceType } from './resource.ts';

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

export interface Permission {
  group: string;
  /** Plural, or `plural/subresource`. */
  resource: string;
  verbs: readonly Verb[];
}

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

export function permission(type: ResourceType, verbs: readonly Verb[], subresource?: string): Permission {
  return { group: type.group, resource: subresource ? `${type.plural}/${subresource}` : type.plural, verbs };
}

/** `verb group/resource` strings, one per verb: the unit both sides are compared in. */
export function permissionKeys(perms: readonly Permission[]): Set<string> {
  const out = new Set<string>();
  for (const p of perms) for (const v of p.verbs) out.add(`${v} ${p.group}/${p.resource}`);
  return out;
}

/** Minimal rules: one per (group, verb set), resources sorted, so the output is stable and readable. */
export function policyRules(perms: readonly Permission[]): PolicyRule[] {
  const byResource = new Map<string, Set<string>>();
  for (const key of permissionKeys(perms)) {
    const [verb, groupResource] = key.split(' ') as [string, string];
    let verbs = byResource.get(groupResource);
    if (!verbs) byResource.set(groupResource, (verbs = new Set()));
    verbs.add(verb);
  }
  const rules = new Map<string, PolicyRule>();
  for (const [groupResource, verbs] of [...byResource].sort(([a], [b]) => byCodeUnits(a, b))) {
    const slash = groupResource.indexOf('/');
    const group = groupResource.slice(0, slash);
    const resource = groupResource.slice(slash + 1);
    const verbList = [...verbs].sort();
    const id = `${group}|${verbList.join(',')}`;
    const rule = rules.get(id);
    if (rule) rule.resources.push(resource);
    else rules.set(id, { apiGroups: [group], resources: [resource], verbs: verbList });
  }
  return [...rules.values()].sort((a, b) => byCodeUnits(`${a.apiGroups[0]}/${a.resources[0]}`, `${b.apiGroups[0]}/${b.resources[0]}`));
}

// Not localeCompare: the order must not depend on the locale, and the first localeCompare loads
// ICU's collation data, which keeps about 7 MB of the Node binary resident for good.
const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const clientVerbs: Record<string, Verb | undefined> = {
  GET: 'get', LIST: 'list', WATCH: 'watch', CREATE: 'create', UPDATE: 'update', APPLY: 'patch', PATCH: 'patch', DELETE: 'delete',
};

/** The RBAC permission a client request needs, from its verb and URL path (undefined for non-resource paths). */
export function permissionFor(clientVerb: string, path: string): string | undefined {
  const verb = clientVerbs[clientVerb];
  if (!verb) return undefined;
  const parts = path.split('?')[0]!.split('/').filter(Boolean);
  let group: string;
  let rest: string[];
  if (parts[0] === 'api') { group = ''; rest = parts.slice(2); }
  else if (parts[0] === 'apis') { group = parts[1] ?? ''; rest = parts.slice(3); }
  else return undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) rest = rest.slice(2);
  const [resource, , subresource] = rest;
  if (!resource) return undefined;
  return `${verb} ${group}/${subresource ? `${resource}/${subresource}` : resource}`;
}

// Which device objects a node event concerns. A cluster has thousands of nodes and an operator may
// hold thousands of objects: a node event must cost the objects that share a label with the node,
// not a scan of all of them (the Go sample's nodeToPtemplates scanned every one).
import type { IndexFunc } from '../../runtime/cache/store.ts';
import { labelIndexValue } from '../../runtime/cache/store.ts';
import { keyOf, type KubeObject } from '../../runtime/object.ts';
import { moduleOfNodeLabel } from '../labels.ts';
import { nodeMatches } from './status.ts';

/** Device objects by each `key=value` of their selector; an empty selector (every node) under MATCH_ALL. */
export const SELECTOR_INDEX = 'kmm.workload/selector';
const MATCH_ALL = '*';

/** The SELECTOR_INDEX function for objects whose node selector is `selectorOf(obj)`. */
export function selectorIndex<R extends KubeObject>(selectorOf: (obj: R) => Record<string, string> | undefined): IndexFunc<R> {
  return (obj) => {
    const entries = Object.entries(selectorOf(obj) ?? {});
    return entries.length ? entries.map(([k, v]) => labelIndexValue(k, v)) : [MATCH_ALL];
  };
}

/** The index reads the mapping needs: an informer (or its store) carrying SELECTOR_INDEX. */
export interface SelectorIndexed<R extends KubeObject> {
  keysByIndex(name: string, value: string): string[];
  byIndex(name: string, value: string): R[];
}

/**
 * Every object whose selector matches the node, or whose KMM labels it carries. It reads the
 * objects that share a label with the node, and the keys of those that select every node.
 */
export function nodeToOwners<R extends KubeObject>(objects: SelectorIndexed<R>, selectorOf: (obj: R) => Record<string, string>) {
  return (node: KubeObject): string[] => {
    const keys = new Set<string>();
    for (const key of objects.keysByIndex(SELECTOR_INDEX, MATCH_ALL)) keys.add(key);
    for (const [k, v] of Object.entries(node.metadata.labels ?? {})) {
      for (const obj of objects.byIndex(SELECTOR_INDEX, labelIndexValue(k, v))) if (nodeMatches(node, selectorOf(obj))) keys.add(keyOf(obj));
      const module = moduleOfNodeLabel(k);
      // The Module is named after its owner; a key with nothing behind it costs one cache miss.
      if (module) keys.add(`${module.namespace}/${module.name}`);
    }
    return [...keys];
  };
}

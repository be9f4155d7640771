// Names, labels and annotations the operator puts on what it creates.
import { createHash } from 'node:crypto';
import type { ObjectKey } from '../../runtime/object.ts';
import type { Ptemplate } from '../api/schema.ts';
import { CONSUMER_SUFFIX } from '../api/validate.ts';

export const FIELD_MANAGER = 'ptemplate-operator';
/** Held on every live Ptemplate so that deletion unloads in order: consumers, then the Module. */
export const UNLOAD_FINALIZER = 'pt.example.com/unload';
/** Hash of what we last applied to a child; lets a no-op reconcile decide without a request. */
export const APPLIED_HASH_ANNOTATION = 'pt.example.com/applied-hash';
/** On consumer pods: the owning Ptemplate's name (annotations have no 63-character limit). */
export const PTEMPLATE_ANNOTATION = 'pt.example.com/ptemplate';
/** On children and consumer pods: the owning Ptemplate's UID (always a valid label value). */
export const PTEMPLATE_UID_LABEL = 'pt.example.com/ptemplate-uid';

export const LABEL_NAME = 'app.kubernetes.io/name';
export const LABEL_INSTANCE = 'app.kubernetes.io/instance';
export const LABEL_COMPONENT = 'app.kubernetes.io/component';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'ptemplate-operator';
export const CONSUMER_COMPONENT = 'consumer';

/** Selects the consumer pods of every Ptemplate: what the pod informer watches. */
export const CONSUMER_POD_SELECTOR = `${LABEL_MANAGED_BY}=${MANAGED_BY},${LABEL_COMPONENT}=${CONSUMER_COMPONENT}`;

export function consumerName(pt: Ptemplate): string {
  return `${pt.metadata.name}${CONSUMER_SUFFIX}`;
}

export function moduleKey(pt: Ptemplate): ObjectKey {
  return { namespace: pt.metadata.namespace, name: pt.metadata.name! };
}

export function consumerKey(pt: Ptemplate): ObjectKey {
  return { namespace: pt.metadata.namespace, name: consumerName(pt) };
}

/**
 * A label value for any legal object name: names may have 253 characters, label values 63.
 * Long names keep a readable prefix and a hash that keeps them distinct.
 */
export function labelValueFor(name: string): string {
  if (name.length <= 63) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 10);
  const prefix = name.slice(0, 63 - hash.length - 1).replace(/[^A-Za-z0-9]+$/, '');
  return `${prefix}-${hash}`;
}

export function commonLabels(pt: Ptemplate, component: string): Record<string, string> {
  return {
    [LABEL_NAME]: 'ptemplate',
    [LABEL_INSTANCE]: labelValueFor(pt.metadata.name!),
    [LABEL_COMPONENT]: component,
    [LABEL_MANAGED_BY]: MANAGED_BY,
    [PTEMPLATE_UID_LABEL]: pt.metadata.uid!,
  };
}

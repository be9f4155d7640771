// Names the Ptemplate operator writes: the workload layer's defaults for pt.example.com/Ptemplate
// (finalizer pt.example.com/unload, label pt.example.com/ptemplate-uid, field manager
// ptemplate-operator, ...), and the consumers' name.
import { workloadNames } from '../kmm/workload/names.ts';
import type { ObjectKey } from '../runtime/object.ts';
import { Ptemplates, type Ptemplate } from './api/schema.ts';
import { CONSUMER_SUFFIX } from './api/validate.ts';

export const NAMES = workloadNames(Ptemplates);
export const FIELD_MANAGER = NAMES.fieldManager;
export const UNLOAD_FINALIZER = NAMES.finalizer;
export const PTEMPLATE_UID_LABEL = NAMES.ownerUidLabel;
export const PTEMPLATE_ANNOTATION = NAMES.ownerNameAnnotation;
export const APPLIED_HASH_ANNOTATION = NAMES.appliedHashAnnotation;

export function consumerName(pt: Ptemplate): string {
  return `${pt.metadata.name}${CONSUMER_SUFFIX}`;
}

export function consumerKey(pt: Ptemplate): ObjectKey {
  return { namespace: pt.metadata.namespace, name: consumerName(pt) };
}

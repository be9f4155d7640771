// Label selection written once: the equality selector (matchLabels, a nodeSelector, a cache read
// by labels) and the recommended labels (app.kubernetes.io/*) every operator puts on what it makes.

/** Kubernetes' recommended labels (https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/). */
export const APP_NAME_LABEL = 'app.kubernetes.io/name';
export const APP_INSTANCE_LABEL = 'app.kubernetes.io/instance';
export const APP_COMPONENT_LABEL = 'app.kubernetes.io/component';
export const APP_PART_OF_LABEL = 'app.kubernetes.io/part-of';
export const APP_MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';

/** True when `labels` carries every key of `selector` with its value (an empty selector matches everything). */
export function matchesLabels(labels: Readonly<Record<string, string>> | undefined, selector: Readonly<Record<string, string>>): boolean {
  for (const [key, value] of Object.entries(selector)) if (labels?.[key] !== value) return false;
  return true;
}

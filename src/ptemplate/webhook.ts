// The Ptemplate validating admission webhook: the API server asks it before storing a Ptemplate,
// and it refuses, naming every field, what the reconciler would refuse anyway. It runs the very
// validatePtemplate the reconciler runs, so the two cannot disagree; without the webhook (not
// registered, or deleted) the reconciler still reports the same errors as Ready=False/InvalidSpec.
import { isDeepStrictEqual } from 'node:util';
import { formatFieldErrors } from '../runtime/field-error.ts';
import { isPlainObject, type ObjectMeta } from '../runtime/object.ts';
import { apiVersionOf } from '../runtime/resource.ts';
import { encodeCaBundle } from '../runtime/webhook/ca-bundle.ts';
import { ValidatingWebhookConfigurations, type ValidatingWebhook, type ValidatingWebhookConfiguration } from '../runtime/webhook/configuration.ts';
import { allow, deny, invalid, type AdmissionHandler, type AdmissionRequest, type AdmissionResult } from '../runtime/webhook/server.ts';
import { Ptemplates, type Ptemplate } from './api/schema.ts';
import { validatePtemplate } from './api/validate.ts';

/** Path the API server posts Ptemplate reviews to (kubebuilder's naming: /validate-<group>-<version>-<kind>). */
export const PTEMPLATE_WEBHOOK_PATH = `/validate-${Ptemplates.group.replaceAll('.', '-')}-${Ptemplates.version}-${Ptemplates.kind.toLowerCase()}`;
/** The webhook's name inside the configuration (a fully qualified name, as the API requires). */
export const PTEMPLATE_WEBHOOK_NAME = `vptemplate.${Ptemplates.group}`;
/** Default name of the ValidatingWebhookConfiguration. */
export const PTEMPLATE_WEBHOOK_CONFIGURATION_NAME = 'ptemplate-operator-validating-webhook';
/** The API server gives up on the webhook after this long (and, with failurePolicy Fail, refuses the write). */
export const PTEMPLATE_WEBHOOK_TIMEOUT_SECONDS = 10;

function isPtemplateKind(request: AdmissionRequest): boolean {
  const k = request.kind;
  return k?.group === Ptemplates.group && k.version === Ptemplates.version && k.kind === Ptemplates.kind;
}

/**
 * The object under review, with the name and namespace of the request filled in where the object
 * leaves them out (a manifest without a namespace, sent to a namespaced URL).
 */
function reviewedPtemplate(request: AdmissionRequest): Ptemplate | undefined {
  const obj = request.object;
  if (!isPlainObject(obj)) return undefined;
  const meta: ObjectMeta = isPlainObject(obj.metadata) ? { ...(obj.metadata as ObjectMeta) } : {};
  if (!meta.namespace && request.namespace) meta.namespace = request.namespace;
  if (!meta.name && request.name) meta.name = request.name;
  return { ...obj, metadata: meta } as Ptemplate;
}

const ignoredUntilFixed = 'the operator ignores this Ptemplate until it is fixed';

/**
 * Decides on one AdmissionReview request for a Ptemplate: CREATE and UPDATE must pass
 * validatePtemplate (every field error is reported); DELETE is allowed.
 *
 * An UPDATE that leaves the spec as it was (labels, annotations, finalizers, and anything on an
 * object being deleted) is allowed even when the stored object is invalid — it can only have been
 * stored while the webhook was not running — with the problems as warnings: refusing it would stop
 * the operator from removing its finalizer, and the object could never be deleted.
 */
export const validatePtemplateAdmission: AdmissionHandler = (request): AdmissionResult => {
  if (request.operation === 'DELETE' || request.operation === 'CONNECT') return allow();
  if (!isPtemplateKind(request)) {
    const k = request.kind;
    return deny(`this webhook reviews ${Ptemplates.kind} (${apiVersionOf(Ptemplates)}) only, not ${k?.kind} (${k?.group}/${k?.version}): check the webhook's rules`,
      400, 'BadRequest');
  }
  // Subresources (status) are not the user's spec; the configuration does not send them anyway.
  if (request.subResource) return allow();
  const pt = reviewedPtemplate(request);
  if (!pt) return deny(`the review of ${request.operation} has no object to validate`, 400, 'BadRequest');

  const errors = validatePtemplate(pt);
  if (errors.length === 0) return allow();

  if (request.operation === 'UPDATE') {
    const old = isPlainObject(request.oldObject) ? request.oldObject : undefined;
    const deleting = Boolean(pt.metadata.deletionTimestamp);
    if (deleting || (old !== undefined && isDeepStrictEqual(old.spec, pt.spec))) {
      return allow(errors.map((e) => `${e.field}: ${e.message} (${ignoredUntilFixed})`));
    }
  }
  const name = pt.metadata.name || `${pt.metadata.generateName ?? ''}*`;
  return invalid(errors, `${Ptemplates.kind} "${name}" is invalid: ${formatFieldErrors(errors)}`);
};

/** The handlers to give startWebhookServer. */
export function ptemplateWebhookHandlers(): Record<string, AdmissionHandler> {
  return { [PTEMPLATE_WEBHOOK_PATH]: validatePtemplateAdmission };
}

interface CommonWebhookOptions {
  /** Name of the configuration. Default PTEMPLATE_WEBHOOK_CONFIGURATION_NAME. */
  name?: string;
  /** PEM of the CA that issued the webhook's serving certificate; base64-encoded here. Leave it out when an injector fills it in. */
  caBundle?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface ServiceWebhookOptions extends CommonWebhookOptions {
  /** The Service in front of the operator's webhook port. */
  serviceName: string;
  namespace: string;
  /** Default PTEMPLATE_WEBHOOK_PATH. */
  path?: string;
  /** The Service's port. Default 443. */
  port?: number;
}

export interface UrlWebhookOptions extends CommonWebhookOptions {
  /** Full `https://` URL, path included (development and tests: a webhook outside the cluster). */
  url: string;
}

/**
 * The ValidatingWebhookConfiguration that sends Ptemplate creates and updates to the webhook:
 * failurePolicy Fail (nothing unreviewed is stored while the webhook is registered), no side effects
 * (so dry-run requests are reviewed too), admission.k8s.io/v1 reviews, 10 s timeout.
 */
export function ptemplateWebhookConfiguration(options: ServiceWebhookOptions | UrlWebhookOptions): ValidatingWebhookConfiguration {
  let clientConfig: ValidatingWebhook['clientConfig'];
  if ('url' in options) {
    if (!options.url.startsWith('https://')) throw new Error(`webhook url must start with https://, not ${JSON.stringify(options.url)}`);
    clientConfig = { url: options.url };
  } else {
    clientConfig = {
      service: { namespace: options.namespace, name: options.serviceName, path: options.path ?? PTEMPLATE_WEBHOOK_PATH, port: options.port ?? 443 },
    };
  }
  if (options.caBundle) clientConfig.caBundle = encodeCaBundle(options.caBundle);
  const metadata: ObjectMeta = { name: options.name ?? PTEMPLATE_WEBHOOK_CONFIGURATION_NAME };
  if (options.labels) metadata.labels = { ...options.labels };
  if (options.annotations) metadata.annotations = { ...options.annotations };
  return {
    apiVersion: apiVersionOf(ValidatingWebhookConfigurations),
    kind: ValidatingWebhookConfigurations.kind,
    metadata,
    webhooks: [{
      name: PTEMPLATE_WEBHOOK_NAME,
      clientConfig,
      rules: [{
        operations: ['CREATE', 'UPDATE'],
        apiGroups: [Ptemplates.group],
        apiVersions: [Ptemplates.version],
        resources: [Ptemplates.plural],
        scope: 'Namespaced',
      }],
      failurePolicy: 'Fail',
      matchPolicy: 'Equivalent',
      sideEffects: 'None',
      admissionReviewVersions: ['v1'],
      timeoutSeconds: PTEMPLATE_WEBHOOK_TIMEOUT_SECONDS,
    }],
  };
}

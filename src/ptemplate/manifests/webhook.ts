// The validating webhook's objects: the Service the API server calls it through, and the
// ValidatingWebhookConfiguration (built by src/ptemplate/webhook.ts from these names).
import type { KubeObject } from '../../runtime/object.ts';
import { PTEMPLATE_WEBHOOK_PATH, ptemplateWebhookConfiguration } from '../webhook.ts';
import { labels, WEBHOOK_SERVICE_NAME, WEBHOOK_SERVICE_PORT } from './constants.ts';
import { service } from './deployment.ts';

/** The Service the API server calls the webhook through (443 -> the pods' 9443). */
export function webhookService(namespace: string): KubeObject {
  return service(WEBHOOK_SERVICE_NAME, namespace, 'webhook', { name: 'https', port: WEBHOOK_SERVICE_PORT, targetPort: 'webhook-server' });
}

/** The ValidatingWebhookConfiguration; its caBundle is filled in by the operator (or by cert-manager's CA injector). */
export function webhookConfiguration(namespace: string): KubeObject {
  return ptemplateWebhookConfiguration({
    serviceName: WEBHOOK_SERVICE_NAME, namespace, path: PTEMPLATE_WEBHOOK_PATH, port: WEBHOOK_SERVICE_PORT, labels: labels('webhook'),
  });
}

// The OLM (Operator Lifecycle Manager) bundle, built from the same objects as config/: the
// ClusterServiceVersion installs the config/ Deployment spec with the config/ RBAC rules, owns the
// CRD of config/crd, and declares the validating webhook of config/webhook, which OLM then serves
// with a certificate of its own. `npm run manifests` writes bundle/ and bundle.Dockerfile.
import type { KubeObject } from '../runtime/object.ts';
import type { PolicyRule } from '../runtime/rbac.ts';
import type { JsonSchemaProps } from '../runtime/schema/index.ts';
import { DaemonSets, type ResourceType } from '../runtime/resource.ts';
import type { ValidatingWebhookConfiguration } from '../runtime/webhook/configuration.ts';
import { MODULE_CRD_NAME } from '../kmm/crd.ts';
import { Modules } from '../kmm/resource.ts';
import { DEFAULT_KMM_VERSION, MIN_KMM_VERSION, maxNameAndNamespaceLength, parseKmmVersion } from '../kmm/versions.ts';
import { ptemplateCrd } from './api/crd.ts';
import { DEFAULT_CONSUMER_IMAGE, DEFAULT_DEVICE_PLUGIN_IMAGE, ModuleState, Ptemplates } from './api/schema.ts';
import {
  DEFAULT_IMAGE, DEFAULT_NAMESPACE, DEPLOYMENT_NAME, generateManifests, LEADER_ELECTION_ROLE_NAME, MANAGER_ROLE_NAME,
  METRICS_READER_ROLE_NAME, METRICS_SERVICE_NAME, OPERATOR_NAME, renderYaml, samplePtemplate, SERVICE_ACCOUNT_NAME,
  WEBHOOK_PORT, WEBHOOK_SERVICE_PORT, type GeneratedFile,
} from './manifests.ts';

/** The operator's version: the CSV's, the bundle's and the default image's tag (package.json has the same). */
export const OPERATOR_VERSION = '0.1.0';
export const CSV_NAME = `${OPERATOR_NAME}.v${OPERATOR_VERSION}`;
/** Kubernetes 1.20 is the oldest version the operator is tested on. */
export const MIN_KUBE_VERSION = '1.20.0';
export const BUNDLE_PACKAGE = OPERATOR_NAME;
export const BUNDLE_CHANNELS = ['alpha'] as const;
export const BUNDLE_DEFAULT_CHANNEL = 'alpha';

export const INSTALL_MODES = [
  { type: 'OwnNamespace', supported: true },
  { type: 'SingleNamespace', supported: true },
  { type: 'MultiNamespace', supported: false },
  { type: 'AllNamespaces', supported: true },
] as const;

export interface BundleOptions {
  /** The operator's image. Default `quay.io/example/ptemplate-operator:0.1.0`. */
  image?: string;
  /**
   * The newest KMM release the bundle declares support for (from MIN_KMM_VERSION on). Default
   * DEFAULT_KMM_VERSION (2.6.0), whose name length rule (40) the operator applies; KMM after 2.6.0 allows 41.
   */
  kmmVersion?: string;
}

/** Annotation of the CSV that says which KMM releases the operator supports, as a semver range. */
export const SUPPORTED_KMM_VERSIONS_ANNOTATION = 'pt.example.com/supported-kmm-versions';

/** The semver range of supported KMM releases: from MIN_KMM_VERSION up to the declared one's minor line. */
export function supportedKmmVersions(kmmVersion: string = DEFAULT_KMM_VERSION): string {
  const v = parseKmmVersion(kmmVersion);
  return `>=${MIN_KMM_VERSION} <${v.major}.${v.minor + 1}.0`;
}

/** The bundle's metadata/annotations.yaml keys (also the bundle image's labels). */
export function bundleAnnotations(): Record<string, string> {
  return {
    'operators.operatorframework.io.bundle.mediatype.v1': 'registry+v1',
    'operators.operatorframework.io.bundle.manifests.v1': 'manifests/',
    'operators.operatorframework.io.bundle.metadata.v1': 'metadata/',
    'operators.operatorframework.io.bundle.package.v1': BUNDLE_PACKAGE,
    'operators.operatorframework.io.bundle.channels.v1': BUNDLE_CHANNELS.join(','),
    'operators.operatorframework.io.bundle.channel.default.v1': BUNDLE_DEFAULT_CHANNEL,
  };
}

/** The schema node at a dotted path below the CRD's top-level field (`spec` or `status`); undefined when there is none. */
export function schemaAt(root: 'spec' | 'status', path: string): JsonSchemaProps | undefined {
  let node: JsonSchemaProps | undefined = ptemplateCrd().spec.versions[0]!.schema.openAPIV3Schema.properties?.[root];
  for (const part of path.split('.')) {
    if (node?.type === 'array') node = node.items;
    node = node?.properties?.[part];
  }
  return node;
}

interface Descriptor {
  path: string;
  displayName: string;
  description: string;
  'x-descriptors': string[];
}

const UI = 'urn:alm:descriptor:com.tectonic.ui';

/** A descriptor whose description is the CRD schema's (the same text `kubectl explain` shows). */
function descriptor(root: 'spec' | 'status', path: string, displayName: string, xDescriptors: string[]): Descriptor {
  const description = schemaAt(root, path)?.description;
  if (!description) throw new Error(`olm: the Ptemplate CRD has no described ${root}.${path}`);
  return { path, displayName, description, 'x-descriptors': xDescriptors };
}

function specDescriptors(): Descriptor[] {
  return [
    descriptor('spec', 'selector', 'Node selector', []),
    descriptor('spec', 'maxdev', 'Devices per node', [`${UI}:number`]),
    descriptor('spec', 'defaultmsg', 'Default message', [`${UI}:text`]),
    descriptor('spec', 'requiredDevices', 'Devices per consumer pod', [`${UI}:number`]),
    descriptor('spec', 'moduleState', 'Module state', Object.values(ModuleState).map((s) => `${UI}:select:${s}`)),
    descriptor('spec', 'imagePullSecret.name', 'Image pull secret', ['urn:alm:descriptor:io.kubernetes:Secret']),
    descriptor('spec', 'driverImage', 'Driver image', [`${UI}:text`, `${UI}:advanced`]),
    descriptor('spec', 'moduleName', 'Kernel module name', [`${UI}:text`, `${UI}:advanced`]),
    descriptor('spec', 'deviceplugin', 'Device plugin image', [`${UI}:text`, `${UI}:advanced`]),
    descriptor('spec', 'consumer', 'Consumer image', [`${UI}:text`, `${UI}:advanced`]),
  ];
}

function statusDescriptors(): Descriptor[] {
  return [
    descriptor('status', 'conditions', 'Conditions', ['urn:alm:descriptor:io.kubernetes.conditions']),
    descriptor('status', 'module.loader.available', 'Module nodes available', ['urn:alm:descriptor:text']),
    descriptor('status', 'module.loader.desired', 'Module nodes desired', ['urn:alm:descriptor:text']),
    descriptor('status', 'consumersReady', 'Consumers ready', ['urn:alm:descriptor:text']),
    descriptor('status', 'consumersDesired', 'Consumers desired', ['urn:alm:descriptor:text']),
  ];
}

const resourceRef = (rt: ResourceType) => ({ kind: rt.kind, name: rt.plural, version: rt.version });

/** The Ptemplate example of the console's "create" form: the sample, without a namespace (the form's namespace is used). */
export function almExamples(): KubeObject[] {
  const sample = samplePtemplate();
  const { namespace: _namespace, ...metadata } = sample.metadata;
  return [{ ...sample, metadata }];
}

const DESCRIPTION = `The Ptemplate operator loads the \`ptemplate_char_dev\` out-of-tree kernel module on selected nodes through
[Kernel Module Management (KMM)](https://kmm.sigs.k8s.io/) and runs the user-land pods that use its devices.

For each \`Ptemplate\` it keeps a KMM \`Module\` (kernel module and device plugin, which advertises \`example.com/ptemplate\`)
and a consumer \`DaemonSet\` whose pods only start on nodes where the module is loaded and the device plugin is ready.
Setting \`moduleState: Unloaded\` (or deleting the Ptemplate) stops the consumers first, then unloads the module.

**Prerequisite:** Kernel Module Management must be installed on the cluster.`;

function kmmRequirement(kmmVersion: string): string {
  return `\n\n**Supported KMM releases:** ${supportedKmmVersions(kmmVersion)} (KMM's \`Module\` ${Modules.version} is required). ` +
    `Ptemplate name and namespace together may have at most ${maxNameAndNamespaceLength(kmmVersion)} characters, KMM ${kmmVersion}'s limit.`;
}

function one(objects: KubeObject[], kind: string, name: string): KubeObject {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
  if (found.length !== 1) throw new Error(`olm: expected one ${kind} ${name} in the generated manifests, found ${found.length}`);
  return found[0]!;
}

/** The ClusterServiceVersion `ptemplate-operator.v<version>`. */
export function clusterServiceVersion(options: BundleOptions = {}): KubeObject {
  const image = options.image ?? DEFAULT_IMAGE;
  const kmmVersion = options.kmmVersion ?? DEFAULT_KMM_VERSION;
  const objects = generateManifests({ image }).flatMap((f) => f.objects);
  const deployment = one(objects, 'Deployment', DEPLOYMENT_NAME);
  const clusterRole = one(objects, 'ClusterRole', MANAGER_ROLE_NAME);
  const leaderElection = objects.filter((o) => o.kind === 'Role' && o.metadata.name === LEADER_ELECTION_ROLE_NAME);
  const webhook = objects.find((o): o is ValidatingWebhookConfiguration => o.kind === 'ValidatingWebhookConfiguration');
  const crd = ptemplateCrd();
  return {
    apiVersion: 'operators.coreos.com/v1alpha1',
    kind: 'ClusterServiceVersion',
    metadata: {
      name: CSV_NAME,
      annotations: {
        'alm-examples': JSON.stringify(almExamples(), null, 2),
        capabilities: 'Basic Install',
        categories: 'Drivers and plugins',
        containerImage: image,
        description: 'Loads the ptemplate kernel module through KMM and runs the pods that use its devices.',
        'operatorframework.io/suggested-namespace': DEFAULT_NAMESPACE,
        [SUPPORTED_KMM_VERSIONS_ANNOTATION]: supportedKmmVersions(kmmVersion),
      },
    },
    spec: {
      displayName: 'Ptemplate Operator',
      description: DESCRIPTION + kmmRequirement(kmmVersion),
      version: OPERATOR_VERSION,
      minKubeVersion: MIN_KUBE_VERSION,
      maturity: 'alpha',
      keywords: ['kernel module', 'kmm', 'driver', 'device plugin', 'ptemplate'],
      maintainers: [{ name: 'Ptemplate operator maintainers', email: 'ptemplate-operator@example.com' }],
      provider: { name: 'example.com' },
      links: [{ name: 'Kernel Module Management', url: 'https://kmm.sigs.k8s.io/' }],
      installModes: INSTALL_MODES.map((m) => ({ ...m })),
      install: {
        strategy: 'deployment',
        spec: {
          deployments: [{ name: DEPLOYMENT_NAME, label: deployment.metadata.labels, spec: deployment.spec }],
          clusterPermissions: [{ serviceAccountName: SERVICE_ACCOUNT_NAME, rules: clusterRole.rules as PolicyRule[] }],
          ...(leaderElection.length
            ? { permissions: leaderElection.map((r) => ({ serviceAccountName: SERVICE_ACCOUNT_NAME, rules: r.rules as PolicyRule[] })) }
            : {}),
        },
      },
      customresourcedefinitions: {
        owned: [{
          name: crd.metadata.name,
          version: Ptemplates.version,
          kind: Ptemplates.kind,
          displayName: 'Ptemplate',
          description: 'Loads the ptemplate kernel module on selected nodes through KMM and runs pods that use its devices.',
          resources: [resourceRef(Modules), resourceRef(DaemonSets)],
          specDescriptors: specDescriptors(),
          statusDescriptors: statusDescriptors(),
        }],
        // OLM installs the bundle only where a provider of KMM's Module API is installed.
        required: [{
          name: MODULE_CRD_NAME,
          version: Modules.version,
          kind: Modules.kind,
          displayName: 'KMM Module',
          description: `Kernel Module Management's Module (KMM ${supportedKmmVersions(kmmVersion)}): the operator writes one per Ptemplate.`,
        }],
      },
      ...(webhook ? { webhookdefinitions: webhookDefinitions(webhook) } : {}),
      relatedImages: [
        { name: 'ptemplate-operator', image },
        { name: 'device-plugin', image: DEFAULT_DEVICE_PLUGIN_IMAGE },
        { name: 'consumer', image: DEFAULT_CONSUMER_IMAGE },
      ],
    },
  };
}

/**
 * OLM's form of the webhook configuration: OLM creates the configuration, a Service
 * (port 443 -> the pods' 9443) and a certificate, and mounts it where config/ mounts the optional
 * cert Secret (volume `webhook-cert`, /tmp/k8s-webhook-server/serving-certs).
 */
function webhookDefinitions(config: ValidatingWebhookConfiguration): Record<string, unknown>[] {
  return (config.webhooks ?? []).map((w) => ({
    type: 'ValidatingAdmissionWebhook',
    generateName: w.name,
    deploymentName: DEPLOYMENT_NAME,
    containerPort: WEBHOOK_SERVICE_PORT,
    targetPort: WEBHOOK_PORT,
    webhookPath: w.clientConfig.service?.path,
    rules: w.rules,
    failurePolicy: w.failurePolicy,
    matchPolicy: w.matchPolicy,
    sideEffects: w.sideEffects,
    timeoutSeconds: w.timeoutSeconds,
    admissionReviewVersions: w.admissionReviewVersions,
  }));
}

/** Bundle objects are installed in the operator's namespace by OLM: they carry none. */
function withoutNamespace(obj: KubeObject): KubeObject {
  const { namespace: _namespace, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

/** operator-sdk's file naming: `<name>_<group>_<version>_<kind>.yaml` (`<name>_v1_<kind>` for the core group). */
function bundleFileName(obj: KubeObject): string {
  return `${obj.metadata.name}_${obj.apiVersion!.replace('/', '_')}_${obj.kind!.toLowerCase()}.yaml`;
}

/** Every file of the bundle, relative to the repository: bundle/manifests, bundle/metadata and bundle.Dockerfile. */
export function bundleFiles(options: BundleOptions = {}): GeneratedFile[] {
  const objects = generateManifests(options.image ? { image: options.image } : {}).flatMap((f) => f.objects);
  const crd = ptemplateCrd();
  const extras = [one(objects, 'Service', METRICS_SERVICE_NAME), one(objects, 'ClusterRole', METRICS_READER_ROLE_NAME)].map(withoutNamespace);
  const annotations = bundleAnnotations();
  return [
    { path: `bundle/manifests/${OPERATOR_NAME}.clusterserviceversion.yaml`, text: renderYaml([clusterServiceVersion(options)]) },
    { path: `bundle/manifests/${crd.spec.group}_${crd.spec.names.plural}.yaml`, text: renderYaml([crd]) },
    ...extras.map((o) => ({ path: `bundle/manifests/${bundleFileName(o)}`, text: renderYaml([o]) })),
    { path: 'bundle/metadata/annotations.yaml', text: renderYaml([{ annotations }]) },
    { path: 'bundle.Dockerfile', text: bundleDockerfile(annotations) },
  ];
}

function bundleDockerfile(annotations: Record<string, string>): string {
  return [
    '# Generated by `npm run manifests` (src/ptemplate/olm.ts). DO NOT EDIT: change the code instead.',
    '# The OLM bundle image: `docker build -f bundle.Dockerfile -t <registry>/ptemplate-operator-bundle:v' + OPERATOR_VERSION + ' .`',
    'FROM scratch',
    '',
    ...Object.entries(annotations).map(([k, v]) => `LABEL ${k}=${v}`),
    '',
    'COPY bundle/manifests /manifests/',
    'COPY bundle/metadata /metadata/',
    '',
  ].join('\n');
}


// The runtime's public surface, for an operator in another package (`import ... from
// 'ptemplate-operator/runtime'`): client, cache, controllers, manager, leader election,
// webhooks, schemas, conditions, events, finalizers. It knows nothing of KMM or any device.
// Names not re-exported here are implementation details and may change.

// Objects, resource types and the API client.
export { clone, deepFreeze, isPlainObject, keyOf, parseKey, type KubeObject, type ObjectKey, type ObjectList, type ObjectMeta, type OwnerReference } from './object.ts';
export {
  ConfigMaps, CustomResourceDefinitions, DaemonSets, Events, Leases, Namespaces, Nodes, Pods, Secrets, ServiceAccounts,
  apiVersionOf, defineResource, resourceId, resourcePath, type PathParts, type ResourceType,
} from './resource.ts';
export {
  Client, DEFAULT_FIELD_MANAGER, RequestCounter, loadKubeConfig,
  type ApplyOptions, type ClientOptions, type DeleteOptions, type ListOptions, type PatchType, type RawRequest,
  type WatchOptions, type WriteOptions,
} from './client/client.ts';
export {
  AlreadyExistsError, ApiError, ConflictError, ForbiddenError, GoneError, InvalidError, NotFoundError, ServerError,
  TooManyRequestsError, UnauthorizedError, UnsupportedMediaTypeError,
  apiErrorFrom, ignoreNotFound, isAlreadyExists, isConflict, isGone, isNotFound, type Status, type StatusCause,
} from './client/errors.ts';
export { SERVER_PACED_FALLBACK, ServerPacedLimit, TokenBucket, type RateLimitPolicy, type RequestLimiter } from './client/ratelimit.ts';
export type { WatchEvent, WatchEventType } from './client/watch.ts';

// The cache: reflector -> store -> informer, shared by controllers.
export { exposedGc, HeapReclaimer, type GcFunction, type HeapReclaimerOptions } from './heap-reclaimer.ts';
export { Cache, type CacheListOptions, type CacheOptions } from './cache/cache.ts';
export { Informer, type InformerOptions, type ResourceEventHandler } from './cache/informer.ts';
export { Reflector, type ReflectorOptions } from './cache/reflector.ts';
export {
  CONTROLLER_UID_INDEX, LABELS_INDEX, NAMESPACE_INDEX, Store, labelIndexValue, labelsIndex,
  type IndexFunc, type StoreChange, type StoreOptions, type TransformFunc,
} from './cache/store.ts';
export { ownedFields, ownedFieldsTransform, pruneToFields, type FieldsV1 } from './cache/owned-fields.ts';

// Controllers and their work queue.
export {
  Controller, type ControllerOptions, type ReconcileContext, type ReconcileResult, type Reconciler, type Request,
} from './controller/controller.ts';
export { ControllerBuilder, type WatchOptions as ControllerWatchOptions } from './controller/builder.ts';
export { enqueueControllerOwner, enqueueObject, replaysLow, replaysLowWhenObserved, type MapFunc, type ReplayPriority } from './controller/handler.ts';
export {
  annotationsChanged, deletionOrFinalizersChanged, generationChanged, labelsChanged, matching, or, passes, type Predicate,
} from './controller/predicate.ts';
export { controllerMetrics, type ControllerMetrics } from './controller/metrics.ts';
export * from './workqueue/index.ts';

// The manager, its HTTP endpoints and leader election.
export {
  DEFAULT_RATE_LIMIT, Manager,
  type LeaderElectionOptions, type LeaderGate, type ManagerOptions, type MetricsServerOptions, type Runnable, type ServerOptions,
  type ServingUrls, type WebhookServerSettings,
} from './manager/manager.ts';
export { startHttpEndpoints, type HttpEndpoints, type HttpEndpointsOptions, type SecureServingOptions } from './manager/http.ts';
export { DelegatingAuth, delegatedAuthPermissions, type DelegatingAuthOptions, type UserInfo } from './manager/auth.ts';
export {
  LeaderElector, clientLeaseStore, defaultIdentity, defaultLeaseNamespace, leaderElectionPermissions,
  type LeaderElectorOptions, type Lease, type LeaseSpec, type LeaseStore,
} from './leaderelection/leader-election.ts';

// Admission webhooks and serving certificates.
export {
  admissionResponse, allow, deny, invalid, startWebhookServer,
  type AdmissionContext, type AdmissionHandler, type AdmissionOperation, type AdmissionRequest, type AdmissionResponse,
  type AdmissionResult, type AdmissionReview, type WebhookServer, type WebhookServerOptions,
} from './webhook/server.ts';
export {
  CaBundleInjector, addCaBundleInjector, caBundlePatch, caBundlePermissions, encodeCaBundle,
  type AddCaBundleInjectorOptions, type CaBundleInjectorOptions,
} from './webhook/ca-bundle.ts';
export {
  ValidatingWebhookConfigurations,
  type LabelSelector, type RuleWithOperations, type ValidatingWebhook, type ValidatingWebhookConfiguration, type WebhookClientConfig,
} from './webhook/configuration.ts';
export { CertSource, loadCertSource, type LoadCertSourceOptions } from './tls/cert-source.ts';
export { generateSelfSigned, type SelfSignedCertificate, type SelfSignedOptions } from './tls/selfsigned.ts';

// Reconciling helpers: apply, conditions, events, finalizers, owners, status pacing, errors.
export { isSubset, needsApply, stableHash, withAppliedHash } from './apply.ts';
export {
  conditionsEqual, findCondition, isFalse, isTrue, removeCondition, setCondition, validateCondition,
  type Condition, type ConditionInput, type ConditionStatus,
} from './conditions.ts';
export { EventRecorder, objectReference, type EventRecorderOptions, type EventType, type ObjectReference } from './events.ts';
export {
  addFinalizer, finalize, hasFinalizer, removeFinalizer, type FinalizeOutcome, type FinalizerHandlers, type PatchClient,
} from './finalizers.ts';
export { AlreadyOwnedError, controllerRef, getControllerOf, isControlledBy, setControllerReference } from './owners.ts';
export { StatusPacer, type StatusPacerOptions } from './status-pacer.ts';
export { TerminalError, isTerminal } from './errors.ts';
export { formatFieldErrors, type FieldError } from './field-error.ts';
export { permission, permissionFor, permissionKeys, policyRules, type Permission, type PolicyRule, type Verb } from './rbac.ts';
export { createLogger, silentLogger, type LogFormat, type LogOptions } from './log.ts';
export { microTime, rfc3339 } from './time.ts';
export { reuseMetric, ScrapedGauge, type AddSample, type Sample } from './metrics.ts';
export { listAllPages } from './client/paginate.ts';
export { listen, listenOn, parseAddress, type Listening } from './serving.ts';
export {
  APP_COMPONENT_LABEL, APP_INSTANCE_LABEL, APP_MANAGED_BY_LABEL, APP_NAME_LABEL, APP_PART_OF_LABEL, matchesLabels,
} from './labels.ts';
export {
  DNS_LABEL_MAX_LENGTH, DNS_SUBDOMAIN_MAX_LENGTH, isDnsLabel, isDnsSubdomain, isLabelValue, qualifiedNameProblem,
} from './names.ts';
export { aborted, delay } from './abort.ts';
export { Backoff } from './backoff.ts';

// Schemas: one declaration gives the types, the CRD, defaulting and validation.
export * from './schema/index.ts';

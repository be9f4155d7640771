// The one validation of a Ptemplate, shared by the reconciler and the admission webhook.
// It applies the schema's defaults first (idempotent on objects the API server already defaulted),
// then checks what the CRD schema says (an object stored under an older CRD, or a webhook request,
// did not necessarily pass it) and what a schema cannot say. A missing pull secret is not checked
// here: that needs the cache, so the reconciler does it.
import { validateUpgradePolicy, type UpgradePolicyInput } from '../../kmm/workload/upgrade-schema.ts';
import { Buffer } from 'node:buffer';
import type { V1Toleration } from '@kubernetes/client-node';
import { moduleParameter } from '../../kmm/module.ts';
import {
  validateImageReference, validateKernelMapping, validateModuleIdentity, validateTolerations, type KmmRuleOptions,
} from '../../kmm/validation.ts';
import type { FieldError } from '../../runtime/field-error.ts';
import { DNS_LABEL_MAX_LENGTH, DNS_SUBDOMAIN_MAX_LENGTH, isDnsSubdomain, isLabelValue } from '../../runtime/names.ts';
import { isPlainObject } from '../../runtime/object.ts';
import { applyDefaults, fieldPath, validateAgainst } from '../../runtime/schema/index.ts';
import { MAX_DEFAULT_MSG_BYTES, MAX_DEVICES, specSchema, type Ptemplate } from './schema.ts';

/** Suffix of the consumer DaemonSet's name: `<name>-consumer`. */
export const CONSUMER_SUFFIX = '-consumer';

const DNS_SUBDOMAIN_MAX = DNS_SUBDOMAIN_MAX_LENGTH;
const LABEL_NAME_MAX = DNS_LABEL_MAX_LENGTH;

/**
 * Everything wrong with `obj`, as field errors naming the field and what would be right; empty when it is valid.
 * Never throws, whatever shape the object has. `options.kmmVersion` selects KMM's name length rule.
 */
export function validatePtemplate(obj: Ptemplate, options: KmmRuleOptions = {}): FieldError[] {
  const errors = validateMetadata(obj, options);
  const raw: unknown = obj.spec;
  if (!isPlainObject(raw)) return [...errors, { field: 'spec', message: 'is required: at least {selector: {...}}' }];

  const spec = applyDefaults(specSchema, raw) as Record<string, unknown>;
  const schemaErrors = validateAgainst(specSchema, spec, 'spec');
  const ruleErrors = [...validateRules(spec), ...validateUpgradePolicy(spec.upgradePolicy as UpgradePolicyInput | undefined, 'spec.upgradePolicy')];
  // A rule's message is more precise than the schema's for the same field (e.g. bytes versus characters).
  const covered = new Set(ruleErrors.map((e) => e.field));
  return [...errors, ...schemaErrors.filter((e) => !covered.has(e.field)), ...ruleErrors];
}

function validateMetadata(obj: Ptemplate, options: KmmRuleOptions): FieldError[] {
  const errors: FieldError[] = [];
  const meta: unknown = obj.metadata;
  const name = isPlainObject(meta) && typeof meta.name === 'string' ? meta.name : '';
  const namespace = isPlainObject(meta) && typeof meta.namespace === 'string' ? meta.namespace : '';
  if (name === '') {
    errors.push({ field: 'metadata.name', message: 'is required' });
  } else if (!isDnsSubdomain(name)) {
    errors.push({
      field: 'metadata.name',
      message: `"${name}" must be a DNS subdomain: lower-case letters, digits, "-" and ".", starting and ending with a letter or digit, at most ${DNS_SUBDOMAIN_MAX} characters`,
    });
  } else {
    const consumer = `${name}${CONSUMER_SUFFIX}`;
    if (!isDnsSubdomain(consumer)) {
      errors.push({
        field: 'metadata.name',
        message: `the consumer DaemonSet's name (<name>${CONSUMER_SUFFIX}) would be ${consumer.length} characters, over the limit of ` +
          `${DNS_SUBDOMAIN_MAX}: use a name of at most ${DNS_SUBDOMAIN_MAX - CONSUMER_SUFFIX.length} characters`,
      });
    }
  }
  if (namespace === '') errors.push({ field: 'metadata.namespace', message: 'is required: a Ptemplate is namespaced' });
  // The Module is named after the Ptemplate, in its namespace.
  if (name !== '' && namespace !== '') errors.push(...validateModuleIdentity(namespace, name, 'metadata.name', options));
  return errors;
}

/** The rules the CRD schema cannot express. Each runs only on fields of the right type (the schema reports the rest). */
function validateRules(spec: Record<string, unknown>): FieldError[] {
  const errors: FieldError[] = [];

  if (isPlainObject(spec.selector)) {
    for (const [key, value] of Object.entries(spec.selector)) {
      const field = fieldPath('spec.selector', key);
      const keyProblem = labelKeyProblem(key);
      if (keyProblem) errors.push({ field, message: `key ${JSON.stringify(key)} is not a valid label key: ${keyProblem}` });
      if (typeof value === 'string' && !isLabelValue(value)) {
        errors.push({
          field,
          message: `value ${JSON.stringify(value)} is not a valid label value: empty, or at most ${LABEL_NAME_MAX} letters, digits, "-", "_" and ".", starting and ending with a letter or digit`,
        });
      }
    }
  }

  if (typeof spec.defaultmsg === 'string') errors.push(...defaultMsgErrors(spec.defaultmsg));

  const { maxdev, requiredDevices } = spec;
  if (isDeviceCount(maxdev) && isDeviceCount(requiredDevices) && requiredDevices > maxdev) {
    errors.push({
      field: 'spec.requiredDevices',
      message: `must be at most spec.maxdev (${maxdev}), not ${requiredDevices}: a node has only maxdev devices, so a consumer pod asking for more never starts`,
    });
  }

  if (typeof spec.driverImage === 'string') errors.push(...validateImageReference(spec.driverImage, 'spec.driverImage'));
  for (const field of ['deviceplugin', 'consumer'] as const) {
    const image = spec[field];
    if (typeof image !== 'string') continue;
    if (image.includes('$')) {
      errors.push({
        field: `spec.${field}`,
        message: `"${image}" contains "$": variables such as \${KERNEL_FULL_VERSION} are substituted only in driverImage and kernelMappings images; give a plain image reference with a tag or digest`,
      });
    } else {
      errors.push(...validateImageReference(image, `spec.${field}`));
    }
  }

  if (Array.isArray(spec.kernelMappings)) {
    spec.kernelMappings.forEach((mapping: unknown, i) => {
      if (!isPlainObject(mapping)) return;
      const fields = { regexp: mapping.regexp, literal: mapping.literal, containerImage: mapping.containerImage };
      if (Object.values(fields).some((v) => v !== undefined && typeof v !== 'string')) return;
      errors.push(...validateKernelMapping(fields as { regexp?: string; literal?: string; containerImage?: string }, `spec.kernelMappings[${i}]`));
    });
  }

  if (isPlainObject(spec.imagePullSecret) && typeof spec.imagePullSecret.name === 'string' && spec.imagePullSecret.name !== '') {
    const name = spec.imagePullSecret.name;
    if (!isDnsSubdomain(name)) {
      errors.push({
        field: 'spec.imagePullSecret.name',
        message: `"${name}" is not a Secret name: lower-case letters, digits, "-" and ".", starting and ending with a letter or digit`,
      });
    }
  }

  // Types and KMM's rules; unknown fields too, which the API server prunes but a raw object may carry.
  if (Array.isArray(spec.tolerations)) errors.push(...validateTolerations(spec.tolerations as V1Toleration[], 'spec.tolerations'));
  return errors;
}

function isDeviceCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_DEVICES;
}

function defaultMsgErrors(msg: string): FieldError[] {
  const field = 'spec.defaultmsg';
  const errors: FieldError[] = [];
  const bytes = Buffer.byteLength(msg, 'utf8');
  if (bytes > MAX_DEFAULT_MSG_BYTES) {
    errors.push({ field, message: `is ${bytes} bytes long (UTF-8); the driver keeps at most ${MAX_DEFAULT_MSG_BYTES} bytes: shorten it` });
  }
  if (msg.includes('"')) {
    errors.push({ field, message: 'must not contain a double quote ("): the kernel\'s parameter parser cannot pass one to the module' });
  }
  const bad = [...msg].findIndex((ch) => ch !== '"' && !/^[ -~]$/.test(ch));
  if (bad >= 0) {
    const code = [...msg][bad]!.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    errors.push({ field, message: `character ${bad + 1} (U+${code}) is not printable ASCII; use letters, digits, spaces and punctuation (space to "~") only` });
  }
  if (errors.length === 0) {
    // What the reconciler will pass to modprobe must be accepted there too.
    try {
      moduleParameter('default_msg', msg);
    } catch (err) {
      errors.push({ field, message: (err as Error).message });
    }
  }
  return errors;
}

/** Why `key` is not a label key (`[prefix/]name`), or undefined when it is one. */
function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (prefix !== undefined && !isDnsSubdomain(prefix)) {
    return `the prefix "${prefix}" must be a DNS subdomain (lower-case letters, digits, "-" and ".", at most ${DNS_SUBDOMAIN_MAX} characters)`;
  }
  if (name === '' || !isLabelValue(name)) {
    return `the name "${name}" must be 1 to ${LABEL_NAME_MAX} letters, digits, "-", "_" and ".", starting and ending with a letter or digit`;
  }
  return undefined;
}


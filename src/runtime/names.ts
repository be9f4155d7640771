// The API server's name rules (apimachinery's validation package), written once: DNS subdomains
// (object names, label and annotation prefixes, API groups), DNS labels (resource names, most
// namespaced names) and qualified names (label keys and values, condition types).

/** Longest DNS subdomain: 253 characters. */
export const DNS_SUBDOMAIN_MAX_LENGTH = 253;
/** Longest DNS label, and longest name part of a qualified name or label value: 63 characters. */
export const DNS_LABEL_MAX_LENGTH = 63;

const SUBDOMAIN_PART = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
/** Pattern source of a DNS subdomain: lower-case DNS labels joined by dots (no length rule). */
export const DNS_SUBDOMAIN_SOURCE = `${SUBDOMAIN_PART}(\\.${SUBDOMAIN_PART})*`;
/** Pattern source of a qualified name's name part: letters, digits, '-', '_', '.', alphanumeric at both ends. */
export const QUALIFIED_NAME_SOURCE = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';

const dnsSubdomain = new RegExp(`^${DNS_SUBDOMAIN_SOURCE}$`);
const dnsLabel = new RegExp(`^${SUBDOMAIN_PART}$`);
const qualifiedName = new RegExp(`^${QUALIFIED_NAME_SOURCE}$`);

/** RFC 1123 subdomain: at most 253 characters, lower-case alphanumerics, '-' and '.'. */
export function isDnsSubdomain(value: string): boolean {
  return value.length <= DNS_SUBDOMAIN_MAX_LENGTH && dnsSubdomain.test(value);
}

/** RFC 1123 label: at most 63 characters, lower-case alphanumerics and '-'. */
export function isDnsLabel(value: string): boolean {
  return value.length <= DNS_LABEL_MAX_LENGTH && dnsLabel.test(value);
}

/**
 * What is wrong with a qualified name (`[prefix/]name`, e.g. a label key), or undefined: the
 * prefix must be a DNS subdomain, the name at most 63 letters, digits, '-', '_' or '.'.
 */
export function qualifiedNameProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (prefix !== undefined && !isDnsSubdomain(prefix)) return `prefix "${prefix}" is not a DNS subdomain`;
  if (name.length > DNS_LABEL_MAX_LENGTH || !qualifiedName.test(name)) {
    return `"${name}" must be at most ${DNS_LABEL_MAX_LENGTH} letters, digits, "-", "_" or ".", starting and ending with a letter or digit`;
  }
  return undefined;
}

/** A label value: empty, or a qualified name's name part (at most 63 characters). */
export function isLabelValue(value: string): boolean {
  return value === '' || (value.length <= DNS_LABEL_MAX_LENGTH && qualifiedName.test(value));
}

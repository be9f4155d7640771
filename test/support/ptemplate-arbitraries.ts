// fast-check generators of Ptemplates, hostile and valid: every field is usually valid (so that many
// generated objects pass validation and reach the API server) and sometimes a value from the classes of
// input that once got through (huge numbers, option-like names, long images, Go-only regexps, unknown
// toleration fields), of the wrong type, or missing.
import fc from 'fast-check';
import type { Ptemplate } from '../../src/ptemplate/api/schema.ts';

/** Namespaces the generated Ptemplates live in (the test creates them). */
export const PROPERTY_NAMESPACES = ['prop', 'property-tests-ns'] as const;

const hostile: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, 0, -1, 2 ** 31, 2 ** 53, 2 ** 63, 1e300, 1.5, Number.NaN, '', '-r', '--', ' ', '"', '\n', '$', '${X}', '🙂', 'a'.repeat(5000)),
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
  fc.integer(),
  fc.double(),
  fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 2 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 }),
);

const labelName = fc.stringMatching(/^[a-z0-9]([a-z0-9._-]{0,8}[a-z0-9])?$/);
const labelKey = fc.oneof(labelName, fc.tuple(fc.constantFrom('kubernetes.io', 'node-role.kubernetes.io', 'example.com'), labelName).map(([p, n]) => `${p}/${n}`));
const labelValue = fc.oneof(fc.constant(''), labelName);

// ---- valid values, at the edges of what is allowed ----

const registry = fc.constantFrom('quay.io', 'registry.local:5000', 'localhost:5000', '', 'r.example.com');
const pathComponent = fc.stringMatching(/^[a-z0-9]{1,8}([._-][a-z0-9]{1,4})?$/);
const tag = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}$/);
const digest = fc.constantFrom(`sha256:${'a'.repeat(64)}`, `sha512:${'0'.repeat(128)}`);
const image = fc.oneof(
  { weight: 10, arbitrary: fc.tuple(registry, fc.array(pathComponent, { minLength: 1, maxLength: 3 }), fc.oneof(
    fc.record({ t: tag }), fc.record({ d: digest }), fc.record({ t: tag, d: digest }),
  )).map(([reg, path, r]) => `${reg ? `${reg}/` : ''}${path.join('/')}${'t' in r ? `:${r.t}` : ''}${'d' in r ? `@${r.d}` : ''}`) },
  { weight: 1, arbitrary: fc.constant(`quay.io/${'a'.repeat(246)}:${'t'.repeat(128)}`) }, // repository 255, tag 128
);
const driverImage = fc.oneof(image, image.map((i) => (i.includes('@') ? i : `${i}-\${KERNEL_FULL_VERSION}`)), fc.constant('quay.io/a/b:${KERNEL_XYZ}-${MOD_NAME}'));
const regexp = fc.constantFrom('^.+$', '^5\\.14\\..*$', '[🙂-🙃]', '(?i)el9', '(?P<v>\\d+)', '\\pL+', `${'(?:'.repeat(1001)}a${')'.repeat(1001)}`, 'a{1000}');
const kernelMapping = fc.oneof(
  fc.record({ regexp, containerImage: driverImage }),
  fc.record({ literal: fc.constantFrom('5.14.0-284.el9.x86_64', '6.1.0'), containerImage: driverImage }),
);
const toleration = fc.oneof(
  fc.record({ operator: fc.constant('Exists'), effect: fc.constantFrom('NoSchedule', 'PreferNoSchedule', '') }, { requiredKeys: ['operator'] }),
  fc.record({ key: labelKey, operator: fc.constantFrom('Equal', ''), value: labelValue, effect: fc.constantFrom('NoSchedule', '') }, { requiredKeys: ['key'] }),
  fc.record({
    key: labelKey, operator: fc.constant('Exists'), effect: fc.constant('NoExecute'),
    tolerationSeconds: fc.oneof(fc.integer({ min: -10, max: 3600 }), fc.constantFrom(2 ** 53 - 1, -(2 ** 53 - 1))),
  }),
);
const moduleName = fc.oneof(fc.stringMatching(/^[a-z_][a-z0-9_-]{0,20}$/), fc.constantFrom('ptemplate_char_dev', 'm'.repeat(56)));

const validSpec = fc.integer({ min: 1, max: 5 }).chain((maxdev) => fc.record({
  selector: fc.dictionary(labelKey, labelValue, { maxKeys: 3 }),
  maxdev: fc.constant(maxdev),
  defaultmsg: fc.oneof(fc.stringMatching(/^[ !#-~]{0,30}$/), fc.constant('x'.repeat(100))),
  deviceplugin: image,
  consumer: image,
  requiredDevices: fc.integer({ min: 1, max: maxdev }),
  imagePullSecret: fc.record({ name: labelName }),
  moduleState: fc.constantFrom('Loaded', 'Unloaded'),
  moduleName,
  driverImage,
  kernelMappings: fc.array(kernelMapping, { maxLength: 3 }),
  tolerations: fc.array(toleration, { maxLength: 3 }),
}, { requiredKeys: ['selector'] }));

// ---- the classes of input that once got through, and other invalid values, per field ----

const invalid: Record<string, fc.Arbitrary<unknown>> = {
  selector: fc.constantFrom({ 'a b': 'c' }, { k: '-x' }, { k: 'v'.repeat(64) }, { 'Example.COM/x': 'y' }, []),
  maxdev: fc.constantFrom(0, 6, 2 ** 53, 1.5, '5'),
  defaultmsg: fc.constantFrom('has "quote"', 'é', 'x'.repeat(101), 'line\nbreak'),
  deviceplugin: fc.constantFrom('quay.io/a/b', `quay.io/${'a'.repeat(5000)}:v1`, `quay.io/${'a'.repeat(248)}:v1`, 'q.io/a/b:${KERNEL_FULL_VERSION}', 'UPPER/x:1', 'a/b:-bad'),
  consumer: fc.constantFrom('quay.io/a/b', `quay.io/a/b:${'t'.repeat(129)}`, 'a b:1', 'q.io/a/b@sha256:abc'),
  requiredDevices: fc.constantFrom(0, 6, 2 ** 63),
  imagePullSecret: fc.constantFrom({ name: 'My_Secret' }, { name: '' }, {}, 'x'),
  moduleState: fc.constantFrom('Running', ''),
  moduleName: fc.constantFrom('-r', '--remove', '-', 'a b', 'm'.repeat(57), ''),
  driverImage: fc.constantFrom('quay.io/a/b:${NOPE}', 'quay.io/a/b', '$', `quay.io/${'a'.repeat(5000)}:v1`),
  kernelMappings: fc.constantFrom(
    [{ regexp: '(?=x)', containerImage: 'q.io/a/b:1' }], [{ regexp: `${'('.repeat(1001)}a${')'.repeat(1001)}`, containerImage: 'q.io/a/b:1' }],
    [{ regexp: '(a{100}){100}', containerImage: 'q.io/a/b:1' }], [{ regexp: 'a', literal: 'b', containerImage: 'q.io/a/b:1' }], [{ containerImage: 'q.io/a/b:1' }],
    [{ regexp: '[z-a]', containerImage: 'q.io/a/b:1' }], [{ literal: '6.1 x', containerImage: 'q.io/a/b:1' }], [{ regexp: 'a' }],
  ),
  tolerations: fc.constantFrom(
    [{ operator: 'Exists', foo: 1 }], [{ operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 2 ** 63 }],
    [{ operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 2 ** 53 }], [{ operator: 'Maybe' }], [{ key: 'k', tolerationSeconds: 5 }],
    [{ operator: 'Exists', value: 'v' }], [{ operator: 'Equal' }], ['NoSchedule'], [{ key: 5 }],
  ),
};
const FIELDS = Object.keys(invalid);

/** A spec: valid, or valid with one or two fields made invalid or hostile (or removed). */
export const specArbitrary: fc.Arbitrary<Record<string, unknown>> = fc.tuple(
  validSpec,
  fc.array(fc.constantFrom(...FIELDS).chain((field) => fc.tuple(fc.constant(field), fc.oneof(invalid[field]!, hostile, fc.constant(undefined)))), { maxLength: 2 }),
).map(([spec, mutations]) => {
  const out: Record<string, unknown> = { ...spec };
  for (const [field, value] of mutations) {
    if (value === undefined) delete out[field];
    else out[field] = value;
  }
  return out;
});

const ptemplateName = fc.oneof(
  { weight: 8, arbitrary: fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,25}[a-z0-9])?$/) },
  { weight: 1, arbitrary: fc.constantFrom('Upper', '-lead', 'a'.repeat(40), 'dots.in.name', '') },
);

/** A Ptemplate as a user (or a webhook request) may send it; `spec` is sometimes not even an object. */
export const ptemplateArbitrary: fc.Arbitrary<Ptemplate> = fc.record({
  name: ptemplateName,
  namespace: fc.constantFrom(...PROPERTY_NAMESPACES),
  spec: fc.oneof({ weight: 20, arbitrary: specArbitrary }, { weight: 1, arbitrary: hostile }),
}).map(({ name, namespace, spec }) => ({
  apiVersion: 'pt.example.com/v1alpha1',
  kind: 'Ptemplate',
  metadata: { name, namespace, uid: '5f0c7b6e-1d2a-4c7e-9a51-0d6f2b8e4a10', generation: 1 },
  spec,
}) as unknown as Ptemplate);

/** PROPERTY_RUNS and PROPERTY_SEED for longer or different local runs; CI uses the fixed seed. */
export function propertyParameters(defaultRuns: number): { numRuns: number; seed: number } {
  const runs = Number(process.env.PROPERTY_RUNS ?? defaultRuns);
  const seed = Number(process.env.PROPERTY_SEED ?? 20261202);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`PROPERTY_RUNS must be a positive integer, not ${process.env.PROPERTY_RUNS}`);
  if (!Number.isInteger(seed)) throw new Error(`PROPERTY_SEED must be an integer, not ${process.env.PROPERTY_SEED}`);
  return { numRuns: runs, seed };
}

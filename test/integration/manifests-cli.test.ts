// `ptemplate-operator manifests --kube-version`: current Kubernetes by default, 1.20 on request, and a
// usage error naming the flag for a release it cannot generate for.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../src/runtime/object.ts';

const cli = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

function manifests(...args: string[]): { status: number | null; objects: KubeObject[]; stderr: string } {
  const result = spawnSync(process.execPath, [cli, 'manifests', ...args], { encoding: 'utf8' });
  const objects = result.status === 0 ? parseAllDocuments(result.stdout).map((d) => d.toJS() as KubeObject) : [];
  return { status: result.status, objects, stderr: result.stderr };
}

const pdbVersion = (objects: KubeObject[]) => objects.find((o) => o.kind === 'PodDisruptionBudget')?.apiVersion;

describe('ptemplate-operator manifests --kube-version', () => {
  it('prints manifests for current Kubernetes by default, and for 1.20 when asked', () => {
    assert.equal(pdbVersion(manifests().objects), 'policy/v1');
    assert.equal(pdbVersion(manifests('--kube-version', '1.20').objects), 'policy/v1beta1');
    assert.equal(pdbVersion(manifests('--kube-version', 'v1.30.1').objects), 'policy/v1');
  });

  it('refuses a release it cannot generate for, naming the flag', () => {
    const result = manifests('--kube-version', '1.19');
    assert.equal(result.status, 2);
    assert.match(result.stderr, /--kube-version: Kubernetes 1.19 is not supported: the oldest is 1.20/);
  });
});

// The pure rules the simulators decide by: which labels belong to which Module, which nodes a Module
// targets, how many devices it advertises, and what a pod asks for.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildModule } from '../kmm/module.ts';
import { devicePluginReadyLabel, moduleReadyLabel } from '../kmm/labels.ts';
import type { Module } from '../kmm/types.ts';
import { simKernelMapping, simMaxDev, simModuleOfLabel, simSelectorMatches, simToleratesNode } from './kmm.ts';
import { simulatedNode } from './nodes.ts';
import { podResourceRequest, simQuantity, SIM_DEVICE_RESOURCE, type SimNode, type SimPod } from './sim-shared.ts';

function module(overrides: Partial<Parameters<typeof buildModule>[0]> = {}): Module {
  return buildModule({
    namespace: 'ns', name: 'mod', selector: { role: 'dev' }, moduleName: 'ptemplate_char_dev',
    kernelMappings: [{ regexp: '^5\\.14\\..*el9.*$', containerImage: 'img:1' }], ...overrides,
  });
}

const node = (labels: Record<string, string>, extra: Partial<SimNode> = {}): SimNode => ({ ...simulatedNode({ name: 'n', labels }), ...extra });

void describe('simModuleOfLabel', () => {
  void it('finds the Module of both ready labels, including names with dots', () => {
    assert.deepEqual(simModuleOfLabel(moduleReadyLabel('ns', 'my.mod')), { namespace: 'ns', name: 'my.mod' });
    assert.deepEqual(simModuleOfLabel(devicePluginReadyLabel('ns', 'mod')), { namespace: 'ns', name: 'mod' });
  });

  void it('ignores labels that are not KMM ready labels', () => {
    assert.equal(simModuleOfLabel('kubernetes.io/hostname'), undefined);
    assert.equal(simModuleOfLabel('kmm.node.kubernetes.io/version-module.ns.mod'), undefined);
    assert.equal(simModuleOfLabel('kmm.node.kubernetes.io/nodot.ready'), undefined);
  });
});

void describe('which nodes a Module targets', () => {
  void it('matches every selector label exactly', () => {
    assert.ok(simSelectorMatches(module(), node({ role: 'dev' })));
    assert.ok(!simSelectorMatches(module(), node({ role: 'prod' })));
    assert.ok(simSelectorMatches(module({ selector: {} }), node({})));
  });

  void it('takes the first kernel mapping that matches, regexp unanchored or literal', () => {
    const m = module({ kernelMappings: [{ literal: '6.1.0', containerImage: 'a:1' }, { regexp: 'el9', containerImage: 'b:1' }] });
    assert.equal(simKernelMapping(m, '6.1.0')?.containerImage, 'a:1');
    assert.equal(simKernelMapping(m, '5.14.0-284.el9.x86_64')?.containerImage, 'b:1');
    assert.equal(simKernelMapping(m, '6.1.0-18-amd64'), undefined);
  });

  void it('understands Go leading flags and treats an invalid pattern as no match', () => {
    assert.ok(simKernelMapping(module({ kernelMappings: [{ regexp: '(?i)EL9', containerImage: 'a:1' }] }), '5.14.0.el9'));
    assert.equal(simKernelMapping(module({ kernelMappings: [{ regexp: '(', containerImage: 'a:1' }] }), '('), undefined);
  });

  void it('needs tolerations for NoSchedule/NoExecute taints and for cordoning', () => {
    const tainted = node({}, { spec: { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }, { key: 'x', effect: 'PreferNoSchedule' }] } });
    assert.ok(!simToleratesNode(module(), tainted));
    assert.ok(simToleratesNode(module({ tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'gpu' }] }), tainted));
    assert.ok(!simToleratesNode(module({ tolerations: [{ key: 'dedicated', value: 'cpu' }] }), tainted));
    const cordoned = node({}, { spec: { unschedulable: true } });
    assert.ok(!simToleratesNode(module(), cordoned));
    assert.ok(simToleratesNode(module({ tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists' }] }), cordoned));
    assert.ok(simToleratesNode(module({ tolerations: [{ operator: 'Exists' }] }), cordoned));
  });
});

void describe('simMaxDev', () => {
  void it('reads max_dev from the modprobe parameters, quoted or not, and defaults to 5', () => {
    assert.equal(simMaxDev(module({ parameters: ['default_msg=hi', 'max_dev=3'] })), 3);
    assert.equal(simMaxDev(module({ parameters: ['max_dev="2"'] })), 2);
    assert.equal(simMaxDev(module()), 5);
  });
});

void describe('podResourceRequest', () => {
  const container = (requests?: Record<string, string>, limits?: Record<string, string>) =>
    ({ name: 'c', resources: { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) } });

  void it('sums containers, counts a limit without a request, and takes the larger of that and the largest init container', () => {
    const pod: SimPod = {
      metadata: { name: 'p' },
      spec: {
        containers: [container({ [SIM_DEVICE_RESOURCE]: '1' }), container(undefined, { [SIM_DEVICE_RESOURCE]: '2' }), container()],
        initContainers: [container({ [SIM_DEVICE_RESOURCE]: '2' })],
      },
    };
    assert.equal(podResourceRequest(pod), 3);
    assert.equal(podResourceRequest({ metadata: { name: 'p' }, spec: { containers: [container()], initContainers: [container({ [SIM_DEVICE_RESOURCE]: '4' })] } }), 4);
    assert.equal(podResourceRequest({ metadata: { name: 'p' } }), 0);
  });

  void it('parses whole-number quantities and treats anything else as zero', () => {
    assert.equal(simQuantity('5'), 5);
    assert.equal(simQuantity('2k'), 2000);
    assert.equal(simQuantity('1Ki'), 1024);
    assert.equal(simQuantity('500m'), 0);
    assert.equal(simQuantity(undefined), 0);
  });
});

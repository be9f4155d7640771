// The pure rules the simulators decide by, checked against KMM v2.6.0's behaviour: which labels
// belong to which Module, which nodes a Module targets and with which config, what KMM's version
// label controller does next, how many devices a Module advertises, and what a pod asks for.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kmmModuleOfNodeLabel, kmmModuleOfVersionLabel, type SimModule } from './kmm-api.ts';
import {
  SIM_DEFAULT_DEVICE, simCountFromParameter, simDesiredConfig, simDeviceKindOf, simModuleConfig, simSelectorMatches, simToleratesNode,
  simVersionLabelChange,
} from './kmm-rules.ts';
import { simulatedNode } from './nodes.ts';
import { podResourceRequest, simQuantity, SIM_DEVICE_RESOURCE, type SimNode, type SimPod } from './sim-shared.ts';

interface ModuleInput {
  selector?: Record<string, string>;
  tolerations?: SimModule['spec']['tolerations'];
  kernelMappings?: { regexp?: string; literal?: string; containerImage?: string }[];
  parameters?: string[];
  moduleName?: string;
  version?: string;
  containerImage?: string;
}

/** A Module written by hand (not by src/kmm's builder), as a user could write it. */
function module(input: ModuleInput = {}): SimModule {
  return {
    apiVersion: 'kmm.sigs.x-k8s.io/v1beta1', kind: 'Module',
    metadata: { namespace: 'ns', name: 'mod' },
    spec: {
      selector: input.selector ?? { role: 'dev' },
      ...(input.tolerations ? { tolerations: input.tolerations } : {}),
      moduleLoader: {
        container: {
          ...(input.containerImage ? { containerImage: input.containerImage } : {}),
          ...(input.version ? { version: input.version } : {}),
          modprobe: { moduleName: input.moduleName ?? 'ptemplate_char_dev', ...(input.parameters ? { parameters: input.parameters } : {}) },
          kernelMappings: input.kernelMappings ?? [{ regexp: '^5\\.14\\..*el9.*$', containerImage: 'img:1' }],
        },
      },
    },
  };
}

const node = (labels: Record<string, string>, extra: Partial<SimNode> = {}): SimNode => ({ ...simulatedNode({ name: 'n', labels }), ...extra });

void describe('KMM node labels', () => {
  void it('finds the Module of ready, version.ready and device-plugin-ready labels, including names with dots', () => {
    assert.deepEqual(kmmModuleOfNodeLabel('kmm.node.kubernetes.io/ns.my.mod.ready'), { namespace: 'ns', name: 'my.mod' });
    assert.deepEqual(kmmModuleOfNodeLabel('kmm.node.kubernetes.io/ns.mod.version.ready'), { namespace: 'ns', name: 'mod' });
    assert.deepEqual(kmmModuleOfNodeLabel('kmm.node.kubernetes.io/ns.mod.device-plugin-ready'), { namespace: 'ns', name: 'mod' });
  });

  void it('ignores labels that are not KMM module labels', () => {
    assert.equal(kmmModuleOfNodeLabel('kubernetes.io/hostname'), undefined);
    assert.equal(kmmModuleOfNodeLabel('kmm.node.kubernetes.io/version-module.ns.mod'), undefined);
    assert.equal(kmmModuleOfNodeLabel('kmm.node.kubernetes.io/nodot.ready'), undefined);
  });

  void it('reads version labels the way KMM does: the last two dot-separated parts', () => {
    assert.deepEqual(kmmModuleOfVersionLabel('kmm.node.kubernetes.io/version-module.ns.mod'), { namespace: 'ns', name: 'mod' });
    assert.deepEqual(kmmModuleOfVersionLabel('beta.kmm.node.kubernetes.io/version-worker-pod.ns.mod'), { namespace: 'ns', name: 'mod' });
    assert.deepEqual(kmmModuleOfVersionLabel('beta.kmm.node.kubernetes.io/version-device-plugin.ns.a.b'), { namespace: 'a', name: 'b' });
    assert.equal(kmmModuleOfVersionLabel('kmm.node.kubernetes.io/ns.mod.ready'), undefined);
  });
});

void describe('which nodes a Module targets, with which config', () => {
  void it('matches every selector label exactly', () => {
    assert.ok(simSelectorMatches(module(), node({ role: 'dev' })));
    assert.ok(!simSelectorMatches(module(), node({ role: 'prod' })));
    assert.ok(simSelectorMatches(module({ selector: {} }), node({})));
  });

  void it('takes the first kernel mapping that matches, regexp unanchored or literal, and trims a trailing +', () => {
    const m = module({ kernelMappings: [{ literal: '6.1.0', containerImage: 'a:1' }, { regexp: 'el9', containerImage: 'b:1' }] });
    assert.equal(simModuleConfig(m, '6.1.0')?.containerImage, 'a:1');
    assert.equal(simModuleConfig(m, '6.1.0+')?.kernelVersion, '6.1.0');
    assert.equal(simModuleConfig(m, '5.14.0-284.el9.x86_64')?.containerImage, 'b:1');
    assert.equal(simModuleConfig(m, '6.1.0-18-amd64'), undefined);
  });

  void it('replaces the kernel and module templates in the image and falls back to the container image', () => {
    const m = module({ containerImage: 'r/${MOD_NAMESPACE}-${MOD_NAME}:${KERNEL_XYZ}', kernelMappings: [
      { literal: '5.14.0-284.el9.x86_64', containerImage: 'r/kmod:${KERNEL_FULL_VERSION}-${KERNEL_X}.${KERNEL_Y}' }, { regexp: '^6' }] });
    assert.equal(simModuleConfig(m, '5.14.0-284.el9.x86_64')?.containerImage, 'r/kmod:5.14.0-284.el9.x86_64-5.14');
    assert.equal(simModuleConfig(m, '6.1.0-18-amd64')?.containerImage, 'r/ns-mod:6.1.0');
  });

  void it('understands Go leading flags and treats an invalid pattern as no match', () => {
    assert.ok(simModuleConfig(module({ kernelMappings: [{ regexp: '(?i)EL9', containerImage: 'a:1' }] }), '5.14.0.el9'));
    assert.equal(simModuleConfig(module({ kernelMappings: [{ regexp: '(', containerImage: 'a:1' }] }), '('), undefined);
  });

  void it('needs tolerations for NoSchedule/NoExecute taints and for cordoning, but not for node pressure', () => {
    const tainted = node({}, { spec: { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }, { key: 'x', effect: 'PreferNoSchedule' }] } });
    assert.ok(!simToleratesNode(module(), tainted));
    assert.ok(simToleratesNode(module({ tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'gpu' }] }), tainted));
    assert.ok(!simToleratesNode(module({ tolerations: [{ key: 'dedicated', value: 'cpu' }] }), tainted));
    const cordoned = node({}, { spec: { unschedulable: true } });
    assert.ok(!simToleratesNode(module(), cordoned));
    assert.ok(simToleratesNode(module({ tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists' }] }), cordoned));
    assert.ok(simToleratesNode(module({ tolerations: [{ operator: 'Exists' }] }), cordoned));
    assert.ok(simToleratesNode(module(), node({}, { spec: { taints: [{ key: 'node.kubernetes.io/memory-pressure', effect: 'NoSchedule' }] } })));
  });
});

void describe('ordered upgrade rules', () => {
  void it('follow KMM\'s label action table: device plugin off first, then the worker label, then both back', () => {
    // A node moved from v1 to v2 by its version-module label.
    assert.deepEqual(simVersionLabelChange('v2', 'v1', 'v1'), { label: 'device-plugin', action: 'delete' });
    assert.deepEqual(simVersionLabelChange('v2', 'v1', ''), { label: 'worker-pod', action: 'delete' });
    assert.deepEqual(simVersionLabelChange('v2', '', ''), { label: 'worker-pod', action: 'add' });
    assert.deepEqual(simVersionLabelChange('v2', 'v2', ''), { label: 'device-plugin', action: 'add' });
    assert.equal(simVersionLabelChange('v2', 'v2', 'v2'), undefined);
    // The version-module label removed: everything goes, device plugin first.
    assert.deepEqual(simVersionLabelChange('', 'v1', 'v1'), { label: 'device-plugin', action: 'delete' });
    assert.deepEqual(simVersionLabelChange('', 'v1', ''), { label: 'worker-pod', action: 'delete' });
    assert.equal(simVersionLabelChange('', '', ''), undefined);
    // States KMM's table does not list: nothing.
    assert.equal(simVersionLabelChange('v2', '', 'v1'), undefined);
    assert.equal(simVersionLabelChange('v2', 'v2', 'v1'), undefined);
  });

  void it('decide the desired config from the worker-pod version label: equal loads, different keeps, missing unloads', () => {
    const m = module({ version: 'v2' });
    const config = simModuleConfig(m, '5.14.0-284.el9.x86_64');
    assert.ok(config);
    assert.deepEqual(simDesiredConfig(m, config, 'v2'), config);
    assert.equal(simDesiredConfig(m, config, 'v1'), 'keep');
    assert.equal(simDesiredConfig(m, config, ''), undefined);
    assert.equal(simDesiredConfig(m, undefined, 'v2'), undefined, 'no kernel mapping: nothing');
    assert.deepEqual(simDesiredConfig(module(), config, ''), config, 'no version: the label does not matter');
  });
});

void describe('device kinds', () => {
  void it('count devices from a modprobe parameter the module was loaded with, quoted or not, with a fallback', () => {
    assert.equal(SIM_DEFAULT_DEVICE.count(['default_msg=hi', 'max_dev=3']), 3);
    assert.equal(SIM_DEFAULT_DEVICE.count(['max_dev="2"']), 2);
    assert.equal(SIM_DEFAULT_DEVICE.count([]), 5);
    assert.equal(simCountFromParameter('num_ports', 1)(['max_dev=3', 'num_ports=4']), 4);
    assert.equal(simCountFromParameter('num_ports', 1)(['xnum_ports=4']), 1);
  });

  void it('pick the first kind whose kernel module matches, a kind without one matching every Module', () => {
    const widget = { resource: 'example.com/widget', count: () => 1, moduleName: 'widget' };
    assert.equal(simDeviceKindOf([widget, SIM_DEFAULT_DEVICE], 'widget'), widget);
    assert.equal(simDeviceKindOf([widget, SIM_DEFAULT_DEVICE], 'ptemplate_char_dev'), SIM_DEFAULT_DEVICE);
    assert.equal(simDeviceKindOf([widget], 'ptemplate_char_dev'), undefined);
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

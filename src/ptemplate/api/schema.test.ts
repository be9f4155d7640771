import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Toleration } from '@kubernetes/client-node';
import type { Condition } from '../../runtime/conditions.ts';
import type { KubeObject } from '../../runtime/object.ts';
import { apiVersionOf } from '../../runtime/resource.ts';
import type { ModuleStatusSummary } from '../../kmm/module.ts';
import {
  ConditionType, ModuleState, Ptemplates,
  type PtemplateCondition, type PtemplateSpec, type PtemplateSpecInput, type PtemplateStatus, type Ptemplate,
} from './schema.ts';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

void describe('Ptemplate types', () => {
  void it('derive a defaulted spec where only imagePullSecret, kernelMappings, tolerations, version and upgradePolicy may be absent', () => {
    true satisfies Equal<
      PtemplateSpec,
      {
        selector: Record<string, string>;
        maxdev: number;
        defaultmsg: string;
        deviceplugin: string;
        consumer: string;
        requiredDevices: number;
        moduleState: 'Loaded' | 'Unloaded';
        moduleName: string;
        driverImage: string;
        imagePullSecret?: { name: string };
        kernelMappings?: { regexp?: string; literal?: string; containerImage: string }[];
        tolerations?: {
          key?: string; operator?: '' | 'Equal' | 'Exists'; value?: string;
          effect?: '' | 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute'; tolerationSeconds?: number;
        }[];
        version?: string;
        upgradePolicy?: { maxUnavailable?: number | string; paused?: boolean; nodeTimeout?: string; maxFailedNodes?: number };
      }
    >;
    // A typed toleration is still a core/v1 one.
    true satisfies (NonNullable<PtemplateSpec['tolerations']>[number] extends V1Toleration ? true : false);
    const minimal = { selector: { 'kubernetes.io/hostname': 'worker-0' } } satisfies PtemplateSpecInput;
    // @ts-expect-error the defaulted fields are missing
    minimal satisfies PtemplateSpec;
    // @ts-expect-error moduleState is an enum
    ({ ...minimal, moduleState: 'Running' }) satisfies PtemplateSpecInput;
    assert.ok(minimal);
  });

  void it('make status conditions interchangeable with the runtime condition helpers and module counts with KMM summaries', () => {
    true satisfies Equal<PtemplateCondition, Condition>;
    const summary: ModuleStatusSummary = { loader: { desired: 1, available: 1, matching: 1 } };
    const status: PtemplateStatus = { module: summary, consumers: ['a'], consumersDesired: 1, consumersReady: 1, observedGeneration: 2 };
    assert.equal(status.module?.loader.available, 1);
  });

  void it('make a Ptemplate a KubeObject', () => {
    const pt = { metadata: { name: 'x' }, spec: {} as PtemplateSpec } satisfies Ptemplate;
    pt satisfies KubeObject;
    assert.equal(pt.metadata.name, 'x');
  });
});

void describe('Ptemplate constants', () => {
  void it('place the resource at pt.example.com/v1alpha1 ptemplates, namespaced', () => {
    assert.equal(apiVersionOf(Ptemplates), 'pt.example.com/v1alpha1');
    assert.deepEqual({ ...Ptemplates }, { group: 'pt.example.com', version: 'v1alpha1', kind: 'Ptemplate', plural: 'ptemplates', namespaced: true });
  });

  void it('name the condition types and module states', () => {
    assert.deepEqual(ConditionType, { Ready: 'Ready', ModuleLoaded: 'ModuleLoaded', ConsumersReady: 'ConsumersReady', Upgrading: 'Upgrading' });
    assert.deepEqual(ModuleState, { Loaded: 'Loaded', Unloaded: 'Unloaded' });
  });
});

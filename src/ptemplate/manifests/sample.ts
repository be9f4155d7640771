// The sample Ptemplate of config/samples (and of the OLM bundle's alm-examples).
import type { KubeObject } from '../../runtime/object.ts';
import { DEFAULT_DEFAULTMSG, DEFAULT_MAXDEV, DEFAULT_REQUIRED_DEVICES, ModuleState, Ptemplates, type PtemplateSpecInput } from '../api/schema.ts';
import { SAMPLE_NAME } from './constants.ts';

/** A Ptemplate showing the fields a reader most likely changes, at their default values. */
export function samplePtemplate(): KubeObject & { spec: PtemplateSpecInput } {
  return {
    apiVersion: `${Ptemplates.group}/${Ptemplates.version}`,
    kind: Ptemplates.kind,
    metadata: { name: SAMPLE_NAME, namespace: 'default' },
    spec: {
      selector: { 'node-role.kubernetes.io/worker': '' },
      maxdev: DEFAULT_MAXDEV,
      defaultmsg: DEFAULT_DEFAULTMSG,
      requiredDevices: DEFAULT_REQUIRED_DEVICES,
      moduleState: ModuleState.Loaded,
    },
  };
}

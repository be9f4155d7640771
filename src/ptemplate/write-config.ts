// Regenerates everything generated from code (`npm run manifests`): config/ from
// src/ptemplate/manifests.ts, the OLM bundle (bundle/, bundle.Dockerfile) from src/ptemplate/olm.ts,
// and the monitoring files (monitoring/) from src/ptemplate/monitoring.ts.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitoringFiles, writeConfig, writeGenerated } from './manifests.ts';
import { bundleFiles } from './olm.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const written = [
  ...(await writeConfig(join(root, 'config'))).map((p) => `config/${p}`),
  ...await writeGenerated(root, [...bundleFiles(), ...monitoringFiles()], { prune: ['bundle', 'monitoring'] }),
];
console.log(written.length ? `wrote ${written.join(', ')}` : 'config/, bundle/ and monitoring/ are up to date');

// Regenerates config/ from src/ptemplate/manifests.ts (`npm run manifests`).
import { fileURLToPath } from 'node:url';
import { writeConfig } from './manifests.ts';

const dir = fileURLToPath(new URL('../../config', import.meta.url));
const written = await writeConfig(dir);
console.log(written.length ? `wrote ${written.map((p) => `config/${p}`).join(', ')}` : 'config/ is up to date');

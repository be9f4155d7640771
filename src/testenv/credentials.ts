// The credentials of a test control plane, all in its temp dir: the service-account signing
// key pair, the static admin token (group system:masters) and the admin kubeconfig. The
// serving certificate is kube-apiserver's own: it writes a self-signed one to the cert dir.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';

/** Where the credentials of the control plane in `dir` are. */
export function credentialPaths(dir: string) {
  const certDir = join(dir, 'certs');
  return {
    /** kube-apiserver's --cert-dir. */
    certDir,
    /** The certificate kube-apiserver writes to certDir on start (with the CA that signed it). */
    apiServerCert: join(certDir, 'apiserver.crt'),
    /** The service-account signing key (PKCS#1 PEM). */
    serviceAccountKey: join(dir, 'sa.key'),
    /** Its public key (SPKI PEM). */
    serviceAccountPublicKey: join(dir, 'sa.pub'),
    /** kube-apiserver's --token-auth-file. */
    tokenFile: join(dir, 'tokens.csv'),
  };
}

/** A fresh random bearer token for the admin user. */
export function newAdminToken(): string {
  return randomBytes(24).toString('hex');
}

/** Creates the cert dir and writes a fresh service-account key pair and the token file with `token` as admin. */
export async function writeCredentials(dir: string, token: string): Promise<void> {
  const paths = credentialPaths(dir);
  await mkdir(paths.certDir, { recursive: true });
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  await writeFile(paths.serviceAccountKey, privateKey, { mode: 0o600 });
  await writeFile(paths.serviceAccountPublicKey, publicKey);
  await writeFile(paths.tokenFile, `${token},admin,admin,"system:masters"\n`, { mode: 0o600 });
}

/** kube-apiserver's serving certificate (and its CA), once kube-apiserver has written it. */
export function readApiServerCa(dir: string): Promise<string> {
  return readFile(credentialPaths(dir).apiServerCert, 'utf8');
}

/** Writes an admin kubeconfig (context `testenv`, namespace `default`) for `server`. */
export async function writeKubeconfig(path: string, server: string, ca: string, token: string): Promise<void> {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'testenv', cluster: { server, 'certificate-authority-data': Buffer.from(ca).toString('base64') } }],
    users: [{ name: 'admin', user: { token } }],
    contexts: [{ name: 'testenv', context: { cluster: 'testenv', user: 'admin', namespace: 'default' } }],
    'current-context': 'testenv',
  };
  await writeFile(path, stringify(config), { mode: 0o600 });
}

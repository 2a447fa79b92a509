/**
 * The api over HTTPS (docs/security.md): given COURIER_TLS_CERT_FILE and COURIER_TLS_KEY_FILE it serves
 * only TLS; agents that trust its certificate (NODE_EXTRA_CA_CERTS) enrol, download and report over it, and
 * an agent that does not trust it keeps waiting instead of talking to whoever answers.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent as TlsTrustingDispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTarGz, uploadPackage } from '../support/packages.js';
import { TestStack, targetStates } from '../support/stack.js';

let stack: TestStack;
let certificates: string;

/** A self-signed certificate for 127.0.0.1, which also serves as its own CA. */
function selfSignedCertificate(folder: string): { certFile: string; keyFile: string } {
  const certFile = join(folder, 'api-cert.pem');
  const keyFile = join(folder, 'api-key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=courier-test-api',
    '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { stdio: 'ignore' });
  return { certFile, keyFile };
}

beforeAll(async () => {
  certificates = await mkdtemp(join(tmpdir(), 'courier-tls-'));
  const { certFile, keyFile } = selfSignedCertificate(certificates);
  const dispatcher = new TlsTrustingDispatcher({ connect: { ca: await readFile(certFile) } });
  stack = await TestStack.start({
    env: { COURIER_TLS_CERT_FILE: certFile, COURIER_TLS_KEY_FILE: keyFile, NODE_EXTRA_CA_CERTS: certFile },
    fetch: (input, init) => fetch(input, { ...init, dispatcher }),
  });
});

afterAll(async () => {
  await stack?.stop();
  if (certificates) await rm(certificates, { recursive: true, force: true });
});

describe('https', () => {
  it('serves only TLS: a plain HTTP request gets no answer', async () => {
    expect(stack.apiUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    await expect(fetch(`${stack.apiUrl.replace('https:', 'http:')}/api/v1/health`)).rejects.toThrow();
    // Nor does a client that does not trust the certificate get past the handshake.
    await expect(fetch(`${stack.apiUrl}/api/v1/health`)).rejects.toThrow();
  });

  it('runs an install job through a relay with every agent call over HTTPS', async () => {
    const archive = await makeTarGz({ 'install.sh': 'echo installed over https\n' });
    const upload = await uploadPackage(stack, { name: 'over-tls', version: '1.0.0', installCommand: 'sh install.sh' }, archive);
    expect(upload.status).toBe(201);
    await stack.startAgent({ role: 'relay', name: 'relay-tls' });
    await stack.startAgent({ role: 'computer', name: 'pc-tls', relay: 'relay-tls' });
    const created = await stack.request('POST', '/jobs', { type: 'install', packageId: upload.body.id, targets: { computers: ['pc-tls'] } });
    expect(created.status).toBe(201);
    const job = await stack.finishedJob(created.body.id);
    expect(targetStates(job)).toEqual({ 'pc-tls': 'installed' });
    // The relay fetched the package from the api itself, over TLS.
    const pkg = await stack.request('GET', `/packages/${upload.body.id}`);
    expect(pkg.body.servedBytes).toEqual([expect.objectContaining({ bytes: archive.length })]);
  });

  it('an agent that does not trust the certificate keeps waiting and says why', async () => {
    const untrusting = stack.launchAgent({ role: 'computer', name: 'pc-untrusting', env: { NODE_EXTRA_CA_CERTS: '' } });
    await untrusting.process.waitForLine(/cannot enrol .* yet \(server unreachable: .*(certificate|self.signed)/i, 30_000);
    expect(untrusting.process.running).toBe(true);
    await untrusting.process.stop();
    await expect(untrusting.ready).rejects.toThrow(/exited \(code 0\) before printing/);
  });
});

// The etcd client over TLS against a real etcd that requires client certificates
// (--client-cert-auth): with the CA and a client certificate it works; without the client
// certificate etcd refuses the handshake; an unreadable PEM file is SWY_STORE_TLS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEtcdClient, loadEtcdTls } from '../../src/routing/etcd-client.ts';
import { isSwitchyardError } from '../../src/errors.ts';
import { startEtcdCluster, type EtcdCluster } from '../support/etcd.ts';

let dir: string;
let etcd: EtcdCluster | undefined;
const pem = (name: string) => join(dir, name);

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe', timeout: 30_000 });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'swy-etcd-tls-'));
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=switchyard test CA');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, ext] of [['server', 'server.ext'], ['client', 'client.ext']]) {
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', '-extfile', ext);
  }
  etcd = await startEtcdCluster({ size: 1, tls: { ca: pem('ca.crt'), cert: pem('server.crt'), key: pem('server.key'), clientCert: pem('client.crt'), clientKey: pem('client.key') } });
});
after(async () => {
  await etcd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('TLS with a client certificate; without it etcd refuses', async () => {
  assert.match(etcd!.endpoints[0], /^https:/);
  const tls = await loadEtcdTls({ ca: pem('ca.crt'), cert: pem('client.crt'), key: pem('client.key') });
  const c = createEtcdClient({ endpoints: etcd!.endpoints, tls });
  try {
    await c.txn({ compare: [], success: [{ type: 'put', key: '/t/tls', value: 'ok' }] });
    assert.equal((await c.read('/t/tls')).kvs[0].value, 'ok');
  } finally {
    await c.close();
  }
  const noCert = createEtcdClient({ endpoints: etcd!.endpoints, tls: { ca: tls.ca } });
  try {
    await assert.rejects(noCert.read('/t/tls'), (err) => isSwitchyardError(err, 'SWY_STORE_UNAVAILABLE'));
  } finally {
    await noCert.close();
  }
  await assert.rejects(loadEtcdTls({ ca: pem('missing.crt') }), (err) => isSwitchyardError(err, 'SWY_STORE_TLS') && /state\.etcd\.tls\.ca/.test(err.message));
});

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { HttpProbeConfig } from '../../../../src/config/index.ts';
import { isSwitchyardError } from '../../../../src/errors.ts';
import { createHttpProbe } from '../../../../src/health/probes/http.ts';

let dir: string;
let server: Server;
let base: string;
const seen: Array<{ servername: string | false | null | undefined; host: string | undefined }> = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-https-probe-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=health.test', '-addext', 'subjectAltName=DNS:health.test',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(`this test needs openssl to make a self-signed certificate (apt-get install openssl): ${(err as Error).message}`);
  }
  server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (req, res) => {
    seen.push({ servername: (req.socket as TLSSocket).servername, host: req.headers.host });
    res.writeHead(200).end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.2', resolve));
  base = `https://127.0.0.2:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const config = (over: Partial<HttpProbeConfig> = {}): HttpProbeConfig => ({
  kind: 'http', name: 'https', url: `${base}/healthz`, method: 'GET', expectStatus: [200], bodyContains: undefined, host: undefined, sni: undefined,
  headers: {}, ca: undefined, insecureSkipVerify: false, timeout: undefined, ...over,
});

async function check(over: Partial<HttpProbeConfig>): Promise<void> {
  const probe = createHttpProbe(config(over));
  try {
    await probe.check(AbortSignal.timeout(3000));
  } finally {
    await probe.close?.();
  }
}

const code = (want: string) => (err: NodeJS.ErrnoException) => {
  assert.equal(err.code, want, err.message);
  return true;
};

test('verification is on by default: a self-signed certificate fails', async () => {
  await assert.rejects(check({}), code('DEPTH_ZERO_SELF_SIGNED_CERT'));
});

test('insecureSkipVerify accepts it', async () => {
  await check({ insecureSkipVerify: true });
});

test('ca trusts it, and the name checked is the sni override', async () => {
  const ca = join(dir, 'cert.pem');
  await assert.rejects(check({ ca }), code('ERR_TLS_CERT_ALTNAME_INVALID'), 'an IP URL is checked against the IP, which the certificate does not name');
  seen.length = 0;
  await check({ ca, sni: 'health.test' });
  assert.deepEqual(seen, [{ servername: 'health.test', host: base.replace('https://', '') }], 'SNI sent, Host left alone');
  await assert.rejects(check({ ca, sni: 'wrong.test' }), code('ERR_TLS_CERT_ALTNAME_INVALID'));
});

test('without sni, the Host override is the TLS name; sni wins over it', async () => {
  const ca = join(dir, 'cert.pem');
  seen.length = 0;
  await check({ ca, host: 'health.test' });
  await check({ ca, host: 'app.example.com', sni: 'health.test' });
  assert.deepEqual(seen, [{ servername: 'health.test', host: 'health.test' }, { servername: 'health.test', host: 'app.example.com' }]);
  await assert.rejects(check({ ca, host: 'app.example.com' }), code('ERR_TLS_CERT_ALTNAME_INVALID'));
});

test('an unreadable ca file is a SWY_HEALTH_CA_READ error at creation', () => {
  assert.throws(() => createHttpProbe(config({ ca: join(dir, 'missing.pem') })), (err) => isSwitchyardError(err, 'SWY_HEALTH_CA_READ') && err.message.includes('missing.pem'));
});

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpProbeConfig } from '../../../../src/config/index.ts';
import { isSwitchyardError } from '../../../../src/errors.ts';
import { BODY_LIMIT, MAX_CHECKS_PER_CONNECTION, createHttpProbe } from '../../../../src/health/probes/http.ts';

const servers: Server[] = [];
after(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

interface Seen { method: string; url: string; headers: IncomingMessage['headers']; socket: unknown }

/** A node:http server on host; `handle` answers each request. Returns its base URL and what it saw. */
async function serve(host: string, handle: (req: IncomingMessage, res: ServerResponse) => void) {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, socket: req.socket });
    handle(req, res);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://${host}:${port}`, port, seen, server };
}

const config = (url: string, over: Partial<HttpProbeConfig> = {}): HttpProbeConfig => ({
  kind: 'http', name: `http ${url}`, url, method: 'GET', expectStatus: [200], bodyContains: undefined, host: undefined, sni: undefined,
  headers: {}, ca: undefined, insecureSkipVerify: false, timeout: undefined, ...over,
});
const signal = () => AbortSignal.timeout(3000);

test('status list: a listed status passes, another fails with SWY_HEALTH_UNEXPECTED_STATUS', async () => {
  let status = 200;
  const east = await serve('127.0.0.2', (_req, res) => res.writeHead(status).end('ok'));
  const probe = createHttpProbe(config(`${east.url}/healthz?x=1`));
  await probe.check(signal());
  assert.equal(east.seen[0].url, '/healthz?x=1');
  assert.equal(east.seen[0].method, 'GET');
  status = 503;
  await assert.rejects(probe.check(signal()), (err) => isSwitchyardError(err, 'SWY_HEALTH_UNEXPECTED_STATUS') && err.message === 'status 503, expected 200');
  const lenient = createHttpProbe(config(`${east.url}/healthz`, { expectStatus: [200, 503], method: 'HEAD' }));
  await lenient.check(signal());
  assert.equal(east.seen.at(-1)?.method, 'HEAD');
  await probe.close?.();
  await lenient.close?.();
});

test('bodyContains: found in the body passes, missing or beyond the first 64 KiB fails', async () => {
  const west = await serve('127.0.0.3', (req, res) => {
    if (req.url === '/big') {
      res.writeHead(200);
      res.write(Buffer.alloc(BODY_LIMIT, 'x'));
      res.end('ready');
    } else if (req.url === '/endless') {
      res.writeHead(200);
      const timer = setInterval(() => res.write(Buffer.alloc(16384, 'y')), 1);
      res.on('close', () => clearInterval(timer));
    } else res.writeHead(200).end('{"status":"ready"}');
  });
  await createHttpProbe(config(`${west.url}/`, { bodyContains: '"ready"' })).check(signal());
  await assert.rejects(createHttpProbe(config(`${west.url}/`, { bodyContains: 'degraded' })).check(signal()), (err) => isSwitchyardError(err, 'SWY_HEALTH_BODY_MISMATCH'));
  await assert.rejects(createHttpProbe(config(`${west.url}/big`, { bodyContains: 'ready' })).check(signal()), (err) => isSwitchyardError(err, 'SWY_HEALTH_BODY_MISMATCH'));
  const started = Date.now();
  await assert.rejects(createHttpProbe(config(`${west.url}/endless`, { bodyContains: 'ready' })).check(signal()), (err) => isSwitchyardError(err, 'SWY_HEALTH_BODY_MISMATCH'));
  assert.ok(Date.now() - started < 2000, 'an endless body is read only up to the limit');
  await createHttpProbe(config(`${west.url}/endless`)).check(signal());
});

test('Host override and custom headers reach the server', async () => {
  const east = await serve('127.0.0.2', (_req, res) => res.writeHead(200).end());
  const probe = createHttpProbe(config(`${east.url}/healthz`, { host: 'app.example.com', headers: { 'X-Probe': 'switchyard', 'User-Agent': 'custom-agent' } }));
  await probe.check(signal());
  const { headers } = east.seen[0];
  assert.equal(headers.host, 'app.example.com');
  assert.equal(headers['x-probe'], 'switchyard');
  assert.equal(headers['user-agent'], 'custom-agent', 'a custom header replaces the default whatever its case');
  await createHttpProbe(config(`${east.url}/healthz`)).check(signal());
  assert.equal(east.seen[1].headers.host, `127.0.0.2:${east.port}`);
  assert.equal(east.seen[1].headers['user-agent'], 'switchyard-health');
  await probe.close?.();
});

test('a server that never answers: the check ends when its signal aborts', async () => {
  const silent = await serve('127.0.0.2', () => undefined);
  const probe = createHttpProbe(config(`${silent.url}/healthz`));
  const started = Date.now();
  await assert.rejects(probe.check(AbortSignal.timeout(200)), (err: Error) => err.name === 'TimeoutError');
  const took = Date.now() - started;
  assert.ok(took >= 190 && took < 1000, `aborted after ${took}ms`);
  await probe.close?.();
});

test('a body that stalls after the headers: the check ends when its signal aborts', async () => {
  const stalling = await serve('127.0.0.3', (_req, res) => {
    res.writeHead(200);
    res.write('partial');
  });
  for (const bodyContains of [undefined, 'ready']) {
    const probe = createHttpProbe(config(`${stalling.url}/healthz`, { bodyContains }));
    const started = Date.now();
    await assert.rejects(probe.check(AbortSignal.timeout(200)), (err: Error) => err.name === 'TimeoutError');
    const took = Date.now() - started;
    assert.ok(took >= 190 && took < 1000, `bodyContains ${bodyContains}: aborted after ${took}ms`);
    await probe.close?.();
  }
});

test('connection refused fails fast with ECONNREFUSED', async () => {
  const gone = await serve('127.0.0.3', (_req, res) => res.end());
  gone.server.close();
  await new Promise((r) => gone.server.once('close', r));
  const probe = createHttpProbe(config(`${gone.url}/healthz`));
  const started = Date.now();
  await assert.rejects(probe.check(signal()), (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED');
  assert.ok(Date.now() - started < 500);
  await probe.close?.();
});

test('one kept connection, renewed every MAX_CHECKS_PER_CONNECTION checks and after any failure', async () => {
  let status = 200;
  const east = await serve('127.0.0.2', (_req, res) => res.writeHead(status).end('ok'));
  const probe = createHttpProbe(config(`${east.url}/healthz`));
  const connections = () => new Set(east.seen.map((s) => s.socket)).size;
  for (let i = 0; i < MAX_CHECKS_PER_CONNECTION; i++) await probe.check(signal());
  assert.equal(connections(), 1, 'keep-alive: one connection for the first checks');
  await probe.check(signal());
  assert.equal(connections(), 2, `a new connection after ${MAX_CHECKS_PER_CONNECTION} checks`);
  await probe.check(signal());
  status = 500;
  await assert.rejects(probe.check(signal()));
  status = 200;
  await probe.check(signal());
  assert.equal(connections(), 3, 'the check after a failure opens a fresh connection');
  await probe.close?.();
});

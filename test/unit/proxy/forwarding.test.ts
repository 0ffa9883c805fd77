// createProxyServer against real origins on 127.0.0.2 (east) and 127.0.0.3 (west): headers,
// Host handling, streaming both ways, and the requests the proxy refuses itself.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { request, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { cluster, parseHead, rawExchange, startOrigin, startTestProxy, type Origin, type TestProxy } from '../../support/proxy-fixtures.ts';

type Seen = { rawHeaders: string[]; url: string; method: string };
let east: Origin;
let west: Origin;
let px: TestProxy;
const seen: Seen[] = [];
const routes = new Map<string, (req: IncomingMessage, res: ServerResponse) => void>();

function origin(name: string) {
  return (req: IncomingMessage, res: ServerResponse) => {
    seen.push({ rawHeaders: req.rawHeaders, url: req.url ?? '', method: req.method ?? '' });
    const route = routes.get(req.url ?? '');
    if (route) return route(req, res);
    res.writeHead(200, { 'content-type': 'text/plain', 'x-origin': name });
    res.end(`hello from ${name}`);
  };
}

before(async () => {
  east = await startOrigin('127.0.0.2', origin('east'));
  west = await startOrigin('127.0.0.3', origin('west'), east.port);
  px = await startTestProxy({ clusters: [cluster('east', east.url), cluster('west', west.url, 'internal.west.svc')], maxUrlLength: 1000, maxHeaderSize: 4096 });
});
after(async () => {
  await px.close();
  await east.kill();
  await west.kill();
});

function get(path: string, headers: Record<string, string | string[]> = {}, method = 'GET'): Promise<{ status: number; headers: IncomingHttpHeaders; raw: string[]; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: px.port, path, method, headers, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, raw: res.rawHeaders, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const header = (raw: string[], name: string): string[] => {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i].toLowerCase() === name) out.push(raw[i + 1]);
  return out;
};

test('forwards to the active cluster, replaces the client\'s X-Forwarded-*/Forwarded (trustForwarded: false), strips hop-by-hop headers', async () => {
  seen.length = 0;
  const res = await get('/path?q=1', {
    Host: 'app.example.com',
    Connection: 'keep-alive, X-Hop-Secret',
    'X-Hop-Secret': 'must not pass',
    'Keep-Alive': 'timeout=30',
    TE: 'trailers',
    'Proxy-Authorization': 'Basic c2VjcmV0',
    'Proxy-Connection': 'keep-alive',
    'X-Forwarded-For': '203.0.113.9',
    'X-Forwarded-Proto': 'https',
    'X-Forwarded-Host': 'edge.example.org',
    Forwarded: 'for=203.0.113.9;proto=https',
    'X-Custom': 'kept',
  });
  assert.equal(res.status, 200);
  assert.equal(res.body, 'hello from east');
  assert.equal(seen.length, 1);
  const h = seen[0].rawHeaders;
  assert.equal(seen[0].url, '/path?q=1');
  assert.deepEqual(header(h, 'host'), ['app.example.com'], 'Host passed through by default');
  assert.deepEqual(header(h, 'x-forwarded-for'), ['127.0.0.1']);
  assert.deepEqual(header(h, 'x-forwarded-proto'), ['http']);
  assert.deepEqual(header(h, 'x-forwarded-host'), ['app.example.com']);
  assert.deepEqual(header(h, 'forwarded'), ['for=127.0.0.1;host=app.example.com;proto=http']);
  assert.deepEqual(header(h, 'x-custom'), ['kept']);
  for (const hop of ['x-hop-secret', 'keep-alive', 'te', 'proxy-authorization', 'proxy-connection']) {
    assert.deepEqual(header(h, hop), [], `${hop} must not reach the upstream`);
  }
  assert.ok(header(h, 'connection').every((v) => !/x-hop-secret/i.test(v)));
  assert.equal(await px.metric('switchyard_proxy_requests_total', { cluster: 'east', status_class: '2xx' }) >= 1, true);
});

test('strips hop-by-hop response headers and the ones Connection lists, keeps repeated ones', async () => {
  routes.set('/hop', (_req, res) => {
    res.writeHead(200, [
      'Connection', 'keep-alive, X-Internal-Hop', 'X-Internal-Hop', 'secret', 'Keep-Alive', 'timeout=99',
      'Proxy-Authenticate', 'Basic realm=x', 'Trailer', 'X-Checksum', 'Upgrade', 'h2c', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2',
      'Content-Type', 'text/plain',
    ]);
    res.end('ok');
  });
  const res = await get('/hop', { Host: 'app.example.com' });
  assert.equal(res.status, 200);
  assert.equal(res.body, 'ok');
  assert.equal(res.headers['x-internal-hop'], undefined);
  assert.equal(res.headers['proxy-authenticate'], undefined);
  assert.equal(res.headers.trailer, undefined);
  assert.equal(res.headers.upgrade, undefined);
  assert.notEqual(res.headers['keep-alive'], 'timeout=99');
  assert.deepEqual(res.headers['set-cookie'], ['a=1', 'b=2']);
});

test('per-cluster hostHeader overrides Host after the routing moves to that cluster', async () => {
  seen.length = 0;
  px.routing.set('west', 'failed-over');
  try {
    const res = await get('/', { Host: 'app.example.com' });
    assert.equal(res.body, 'hello from west');
    assert.deepEqual(header(seen[0].rawHeaders, 'host'), ['internal.west.svc']);
    assert.deepEqual(header(seen[0].rawHeaders, 'x-forwarded-host'), ['app.example.com'], 'the original Host is kept in X-Forwarded-Host');
  } finally {
    px.routing.set('east', 'steady');
  }
  assert.equal((await get('/', { Host: 'app.example.com' })).body, 'hello from east');
});

test('absolute-form: served hosts are forwarded as origin-form with Host from the target, others get 421', async () => {
  seen.length = 0;
  const ok = parseHead((await rawExchange(px.port, 'GET http://app.example.com/abs?x=1 HTTP/1.1\r\nHost: ignored.example\r\nConnection: close\r\n\r\n')).text);
  assert.equal(ok.status, 200);
  assert.equal(seen[0].url, '/abs?x=1');
  assert.deepEqual(header(seen[0].rawHeaders, 'host'), ['app.example.com']);

  seen.length = 0;
  const open = parseHead((await rawExchange(px.port, 'GET http://www.example.net/ HTTP/1.1\r\nHost: www.example.net\r\n\r\n')).text);
  assert.equal(open.status, 421);
  assert.deepEqual(open.headers.get('x-switchyard-error'), ['SWY_PROXY_MISDIRECTED']);
  assert.equal(JSON.parse(open.body).code, 'SWY_PROXY_MISDIRECTED');
  assert.equal(seen.length, 0, 'nothing reached an upstream');
});

test('CONNECT, asterisk-form and a missing Host are refused with codes', async () => {
  const c = await rawExchange(px.port, 'CONNECT www.example.net:443 HTTP/1.1\r\nHost: www.example.net:443\r\n\r\n');
  const connectReply = parseHead(c.text);
  assert.equal(connectReply.status, 405);
  assert.deepEqual(connectReply.headers.get('x-switchyard-error'), ['SWY_PROXY_CONNECT_REJECTED']);
  assert.equal(c.closed, true);
  const star = parseHead((await rawExchange(px.port, 'OPTIONS * HTTP/1.1\r\nHost: app.example.com\r\n\r\n')).text);
  assert.equal(star.status, 400);
  assert.deepEqual(star.headers.get('x-switchyard-error'), ['SWY_PROXY_BAD_REQUEST']);
  const noHost = parseHead((await rawExchange(px.port, 'GET / HTTP/1.1\r\n\r\n')).text);
  assert.equal(noHost.status, 400);
  assert.deepEqual(noHost.headers.get('x-switchyard-error'), ['SWY_PROXY_BAD_REQUEST']);
});

test('URL and header size limits: 414 and 431 with codes', async () => {
  seen.length = 0;
  const long = await get(`/${'a'.repeat(1200)}`, { Host: 'app.example.com' });
  assert.equal(long.status, 414);
  assert.equal(long.headers['x-switchyard-error'], 'SWY_PROXY_URL_TOO_LONG');
  const longer = parseHead((await rawExchange(px.port, `GET /${'b'.repeat(6000)} HTTP/1.1\r\nHost: app.example.com\r\n\r\n`)).text);
  assert.equal(longer.status, 414, 'a request line longer than maxHeaderSize is still a URL problem');
  const big = parseHead((await rawExchange(px.port, `GET / HTTP/1.1\r\nHost: app.example.com\r\nX-Big: ${'c'.repeat(5000)}\r\n\r\n`)).text);
  assert.equal(big.status, 431);
  assert.deepEqual(big.headers.get('x-switchyard-error'), ['SWY_PROXY_HEADERS_TOO_LARGE']);
  assert.equal(seen.length, 0);
  assert.ok(await px.metric('switchyard_proxy_requests_total', { cluster: 'none', status_class: '4xx' }) >= 3);
});

test('streams a large upload: the origin sees bytes before the client has finished sending', async () => {
  const total = 64 * 1024 * 1024;
  const chunk = Buffer.alloc(1024 * 1024, 7);
  let firstByteAt = 0;
  let received = 0;
  const hash = createHash('sha256');
  routes.set('/upload', (req, res) => {
    req.on('data', (c: Buffer) => {
      if (received === 0) firstByteAt = performance.now();
      received += c.length;
      hash.update(c);
    });
    req.on('end', () => res.end(JSON.stringify({ received, sha: hash.digest('hex') })));
  });
  const expected = createHash('sha256');
  const done = new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: px.port, path: '/upload', method: 'POST', headers: { Host: 'app.example.com', 'Content-Type': 'application/octet-stream' } }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    (async () => {
      let sent = 0;
      while (sent < total) {
        expected.update(chunk);
        if (!req.write(chunk)) await once(req, 'drain');
        sent += chunk.length;
      }
      sentAllAt = performance.now();
      req.end();
    })().catch(reject);
  });
  let sentAllAt = 0;
  const res = await done;
  assert.equal(res.status, 200);
  const body = JSON.parse(res.body);
  assert.equal(body.received, total);
  assert.equal(body.sha, expected.digest('hex'));
  assert.ok(firstByteAt > 0 && firstByteAt < sentAllAt, 'the upload was streamed, not buffered whole by the proxy');
});

test('streams a slow download: the first bytes arrive before the origin has finished, and backpressure holds the origin', async () => {
  let release!: () => void;
  const released = new Promise<void>((r) => { release = r; });
  routes.set('/slow', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('first part;');
    released.then(() => res.end('second part'));
  });
  const first = await new Promise<{ chunk: string; res: IncomingMessage }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: px.port, path: '/slow', headers: { Host: 'app.example.com' } }, (res) => {
      res.setEncoding('utf8');
      res.once('data', (chunk: string) => resolve({ chunk, res }));
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(first.chunk, 'first part;', 'the first bytes came through while the origin was still writing');
  let rest = '';
  first.res.on('data', (c) => { rest += c; });
  release();
  await once(first.res, 'end');
  assert.equal(rest, 'second part');

  // Backpressure: a client that stops reading must stop the origin too, long before the body ends.
  const total = 256 * 1024 * 1024;
  let written = 0;
  let stalled!: () => void;
  const originStalled = new Promise<void>((r) => { stalled = r; });
  routes.set('/big', (_req, res) => {
    res.writeHead(200, { 'content-length': String(total) });
    const block = Buffer.alloc(1024 * 1024, 1);
    const pump = () => {
      while (written < total) {
        written += block.length;
        if (!res.write(block)) {
          const t = setTimeout(stalled, 400);
          res.once('drain', () => { clearTimeout(t); pump(); });
          return;
        }
      }
      res.end();
    };
    pump();
  });
  const big = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: px.port, path: '/big', headers: { Host: 'app.example.com' } }, resolve);
    req.on('error', reject);
    req.end();
  });
  big.pause();
  await Promise.race([originStalled, new Promise((_, rej) => setTimeout(() => rej(new Error('the origin never stalled: the proxy is buffering the body')), 10_000))]);
  assert.ok(written < 96 * 1024 * 1024, `origin wrote ${written} bytes while the client read nothing`);
  let got = 0;
  big.on('data', (c: Buffer) => { got += c.length; });
  big.resume();
  await once(big, 'end');
  assert.equal(got, total);
});

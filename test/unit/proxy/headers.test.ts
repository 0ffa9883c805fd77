import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildResponseHeaders, buildUpstreamHeaders, clientAddress, connectionListed, forwardedElement } from '../../../src/proxy/headers.ts';

const pairs = (flat: string[]) => {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i], flat[i + 1]]);
  return out;
};

test('buildUpstreamHeaders strips hop-by-hop and Connection-listed headers, keeps the rest in order', () => {
  const raw = [
    'Host', 'app.example.com', 'Connection', 'keep-alive, X-Secret-Hop', 'X-Secret-Hop', '1', 'Keep-Alive', 'timeout=5',
    'TE', 'trailers', 'Trailer', 'X-T', 'Proxy-Connection', 'keep-alive', 'Proxy-Authorization', 'Basic eA==',
    'Expect', '100-continue', 'Upgrade', 'websocket', 'Accept', 'text/html', 'Set-Thing', 'a', 'Set-Thing', 'b', 'Content-Length', '5',
  ];
  const h = buildUpstreamHeaders(raw, '192.0.2.7', 'http', '', false);
  assert.deepEqual(pairs(h.headers), [
    ['host', 'app.example.com'], ['Accept', 'text/html'], ['Set-Thing', 'a'], ['Set-Thing', 'b'], ['Content-Length', '5'],
    ['x-forwarded-for', '192.0.2.7'], ['x-forwarded-proto', 'http'], ['x-forwarded-host', 'app.example.com'],
    ['forwarded', 'for=192.0.2.7;host=app.example.com;proto=http'],
  ]);
  assert.equal(h.host, 'app.example.com');
  assert.equal(h.hasBody, true);
  assert.equal(h.upgrade, 'websocket');
});

test('buildUpstreamHeaders with trustForwarded appends to existing X-Forwarded-* and Forwarded (several lines joined)', () => {
  const raw = ['host', 'a.example:8080', 'X-Forwarded-For', '203.0.113.1', 'x-forwarded-for', '198.51.100.2', 'X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'edge.example', 'Forwarded', 'for=203.0.113.1;proto=https'];
  const h = buildUpstreamHeaders(raw, '2001:db8::1', 'http', '', true);
  const m = new Map(pairs(h.headers));
  assert.equal(m.get('x-forwarded-for'), '203.0.113.1, 198.51.100.2, 2001:db8::1');
  assert.equal(m.get('x-forwarded-proto'), 'https, http');
  assert.equal(m.get('x-forwarded-host'), 'edge.example, a.example:8080');
  assert.equal(m.get('forwarded'), 'for=203.0.113.1;proto=https, for="[2001:db8::1]";host="a.example:8080";proto=http');
  assert.equal(h.hasBody, false);
});

test('buildUpstreamHeaders without trustForwarded replaces the client\'s forwarding headers', () => {
  const raw = ['host', 'a.example', 'X-Forwarded-For', '6.6.6.6', 'X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'bank.example', 'Forwarded', 'for=6.6.6.6'];
  const m = pairs(buildUpstreamHeaders(raw, '192.0.2.7', 'http', '', false).headers);
  assert.deepEqual(m.filter(([n]) => /forward/i.test(n)), [
    ['x-forwarded-for', '192.0.2.7'], ['x-forwarded-proto', 'http'], ['x-forwarded-host', 'a.example'], ['forwarded', 'for=192.0.2.7;host=a.example;proto=http'],
  ]);
});

test('a client cannot strip the proxy\'s headers, Host or Content-Length by listing them in Connection', () => {
  for (const trust of [false, true]) {
    const raw = ['host', 'a.example', 'Connection', 'x-forwarded-for, Forwarded, X-Forwarded-Proto, x-forwarded-host, host, content-length, x-drop', 'X-Drop', '1', 'Content-Length', '3', 'X-Forwarded-For', '10.9.9.9'];
    const m = new Map(pairs(buildUpstreamHeaders(raw, '192.0.2.7', 'http', '', trust).headers));
    assert.equal(m.get('x-forwarded-for'), trust ? '10.9.9.9, 192.0.2.7' : '192.0.2.7');
    assert.equal(m.get('x-forwarded-proto'), 'http');
    assert.equal(m.get('x-forwarded-host'), 'a.example');
    assert.equal(m.get('forwarded'), 'for=192.0.2.7;host=a.example;proto=http');
    assert.equal(m.get('host'), 'a.example');
    assert.equal(m.get('Content-Length'), '3');
    assert.equal(m.has('X-Drop'), false, 'other listed headers are still dropped');
  }
});

test('buildUpstreamHeaders: absolute-form authority replaces Host; no Host leaves the slot empty', () => {
  const h = buildUpstreamHeaders(['Host', 'other'], '10.0.0.1', 'http', 'app.example.com', false);
  assert.deepEqual(h.headers.slice(0, 2), ['host', 'app.example.com']);
  const none = buildUpstreamHeaders(['Transfer-Encoding', 'chunked'], '10.0.0.1', 'http', '', false);
  assert.equal(none.host, '');
  assert.equal(none.hasBody, true);
  assert.equal(new Map(pairs(none.headers)).get('forwarded'), 'for=10.0.0.1;proto=http');
  assert.equal(new Map(pairs(none.headers)).has('x-forwarded-host'), false);
  assert.equal(buildUpstreamHeaders(['Content-Length', '0'], '10.0.0.1', 'http', '', false).hasBody, false);
});

test('buildResponseHeaders strips hop-by-hop, Connection-listed and Proxy-Authenticate; keeps repeats', () => {
  const out = buildResponseHeaders({
    'content-type': 'text/plain', connection: 'keep-alive, x-internal', 'x-internal': 'x', 'keep-alive': 'timeout=9',
    'transfer-encoding': 'chunked', trailer: 'x-t', upgrade: 'h2c', 'proxy-authenticate': 'Basic', te: 'trailers',
    'proxy-connection': 'close', 'set-cookie': ['a=1', 'b=2'], 'x-none': undefined,
  }, false);
  assert.deepEqual(pairs(out), [['content-type', 'text/plain'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2']]);
  assert.deepEqual(pairs(buildResponseHeaders({ connection: 'Upgrade', upgrade: 'websocket', 'keep-alive': '1', 'sec-websocket-accept': 'k' }, true)), [
    ['connection', 'Upgrade'], ['upgrade', 'websocket'], ['sec-websocket-accept', 'k'],
  ]);
});

test('forwardedElement, clientAddress and connectionListed', () => {
  assert.equal(forwardedElement('192.0.2.1', 'app.example.com', 'http'), 'for=192.0.2.1;host=app.example.com;proto=http');
  assert.equal(forwardedElement('::1', 'h:1', 'https'), 'for="[::1]";host="h:1";proto=https');
  assert.equal(forwardedElement('unknown', 'a"b', 'http'), 'for=unknown;host="a\\"b";proto=http');
  assert.equal(clientAddress('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(clientAddress('::1'), '::1');
  assert.equal(clientAddress(undefined), 'unknown');
  assert.deepEqual([...connectionListed('Keep-Alive, X-A ,close,upgrade, x-b,')], ['x-a', 'x-b']);
});

test('Forwarded follows every change of client, host and proto from one request to the next (the element is reused only when all three match)', () => {
  const fwd = (client: string, host: string, proto = 'http') => new Map(pairs(buildUpstreamHeaders(host === '' ? [] : ['Host', host], client, proto, '', false).headers)).get('forwarded');
  assert.equal(fwd('192.0.2.7', 'app.example.com'), 'for=192.0.2.7;host=app.example.com;proto=http');
  assert.equal(fwd('192.0.2.7', 'app.example.com'), 'for=192.0.2.7;host=app.example.com;proto=http');
  assert.equal(fwd('192.0.2.8', 'app.example.com'), 'for=192.0.2.8;host=app.example.com;proto=http');
  assert.equal(fwd('192.0.2.8', 'other.example.com:8080'), 'for=192.0.2.8;host="other.example.com:8080";proto=http');
  assert.equal(fwd('192.0.2.8', 'other.example.com:8080', 'https'), 'for=192.0.2.8;host="other.example.com:8080";proto=https');
  assert.equal(fwd('2001:db8::1', 'other.example.com:8080', 'https'), 'for="[2001:db8::1]";host="other.example.com:8080";proto=https');
  assert.equal(fwd('2001:db8::1', ''), 'for="[2001:db8::1]";proto=http');
});

test('buildResponseHeaders: a Connection value that is a single keyword (any case) lists no header; one that lists headers still removes them', () => {
  for (const connection of ['keep-alive', 'Keep-Alive', 'close', 'CLOSE', 'upgrade']) {
    assert.deepEqual(pairs(buildResponseHeaders({ connection, 'keep-alive': 'timeout=5', 'x-a': '1', 'content-length': '2' }, false)), [['x-a', '1'], ['content-length', '2']], connection);
  }
  assert.deepEqual(pairs(buildResponseHeaders({ connection: 'X-A', 'x-a': '1', 'x-b': '2' }, false)), [['x-b', '2']]);
  assert.deepEqual(pairs(buildResponseHeaders({ connection: 'keep-alive, x-b', 'x-a': '1', 'x-b': '2' }, false)), [['x-a', '1']]);
});

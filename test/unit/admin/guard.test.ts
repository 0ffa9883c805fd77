// The admin API's browser defences as pure functions: token comparison, Host (DNS rebinding),
// cross-site detection, the JSON content type of mutating calls.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crossSiteReason, hostAllowed, hostOf, isJsonContentType, tokenMatches } from '../../../src/admin/guard.ts';

test('tokenMatches: only the exact bearer token', () => {
  const cases: Array<[string | undefined, boolean]> = [
    ['Bearer s3cret', true], ['bearer s3cret', true], ['Bearer  s3cret ', true],
    [undefined, false], ['', false], ['Bearer', false], ['Bearer ', false], ['Basic s3cret', false],
    ['Bearer s3cre', false], ['Bearer s3cret2', false], ['Bearer S3CRET', false], ['Bearer s3cret x', false],
  ];
  for (const [header, expected] of cases) assert.equal(tokenMatches(header, 's3cret'), expected, String(header));
});

test('hostOf: host part, lower-case, without port or brackets', () => {
  const cases: Array<[string, string]> = [
    ['127.0.0.1:9090', '127.0.0.1'], ['LOCALHOST:9090', 'localhost'], ['[::1]:9090', '::1'], ['[::1]', '::1'],
    ['admin.example.com.', 'admin.example.com'], ['evil.example:9090', 'evil.example'],
    ['a b', ''], ['[::1', ''], ['[::1]x', ''], ['host:port', ''], ['', ''],
  ];
  for (const [input, expected] of cases) assert.equal(hostOf(input), expected, input);
});

test('hostAllowed: IP literals, localhost and configured names; rebinding names refused', () => {
  const allowed = new Set(['switchyard-admin.ops.svc']);
  const cases: Array<[string | undefined, boolean]> = [
    ['127.0.0.1:9090', true], ['10.1.2.3:9090', true], ['[::1]:9090', true], ['localhost:9090', true],
    ['switchyard-admin.ops.svc:9090', true], ['SWITCHYARD-ADMIN.OPS.SVC', true],
    ['evil.example:9090', false], ['127.0.0.1.evil.example', false], ['localhost.evil.example', false], [undefined, false], ['', false],
  ];
  for (const [host, expected] of cases) assert.equal(hostAllowed(host, allowed), expected, String(host));
});

test('crossSiteReason: browsers from other sites are named, same-origin and non-browsers pass', () => {
  const host = '127.0.0.1:9090';
  assert.equal(crossSiteReason({ host }), undefined);
  assert.equal(crossSiteReason({ host, 'sec-fetch-site': 'same-origin', origin: 'http://127.0.0.1:9090' }), undefined);
  assert.equal(crossSiteReason({ host, 'sec-fetch-site': 'none' }), undefined);
  assert.match(crossSiteReason({ host, 'sec-fetch-site': 'cross-site' })!, /cross-site/);
  assert.match(crossSiteReason({ host, 'sec-fetch-site': 'same-site' })!, /same-site/);
  assert.match(crossSiteReason({ host, origin: 'null' })!, /null/);
  assert.match(crossSiteReason({ host, origin: 'http://evil.example' })!, /evil\.example/);
  assert.match(crossSiteReason({ host, origin: 'http://127.0.0.1:9091' })!, /9091/);
  assert.match(crossSiteReason({ origin: 'http://127.0.0.1:9090' })!, /not this admin API/);
});

test('isJsonContentType', () => {
  for (const v of ['application/json', 'Application/JSON; charset=utf-8', ' application/json ']) assert.equal(isJsonContentType(v), true, v);
  for (const v of [undefined, '', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonp', 'text/plain; application/json']) assert.equal(isJsonContentType(v), false, String(v));
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authorityHost, parseTarget } from '../../../src/proxy/target.ts';

const served = new Set(['app.example.com']);

test('parseTarget: absolute-form only for served hosts; other forms rejected', () => {
  const table: Array<[string, ReturnType<typeof parseTarget>]> = [
    ['http://app.example.com/a?b=1', { ok: true, path: '/a?b=1', authority: 'app.example.com' }],
    ['http://APP.example.com:8080/x', { ok: true, path: '/x', authority: 'APP.example.com:8080' }],
    ['https://app.example.com.', { ok: true, path: '/', authority: 'app.example.com.' }],
    ['http://app.example.com?q', { ok: true, path: '/?q', authority: 'app.example.com' }],
    ['http://evil.example.net/', { ok: false, code: 'SWY_PROXY_MISDIRECTED' }],
    ['http://127.0.0.1:8080/', { ok: false, code: 'SWY_PROXY_MISDIRECTED' }],
    ['http://user@app.example.com/', { ok: false, code: 'SWY_PROXY_BAD_REQUEST' }],
    ['http:///path', { ok: false, code: 'SWY_PROXY_BAD_REQUEST' }],
    ['ftp://app.example.com/', { ok: false, code: 'SWY_PROXY_BAD_REQUEST' }],
    ['app.example.com:443', { ok: false, code: 'SWY_PROXY_BAD_REQUEST' }],
    ['*', { ok: false, code: 'SWY_PROXY_BAD_REQUEST' }],
  ];
  for (const [url, want] of table) assert.deepEqual(parseTarget(url, served), want, url);
});

test('authorityHost strips port, brackets, case and the trailing dot', () => {
  const table: Array<[string, string]> = [
    ['App.Example.com:80', 'app.example.com'], ['[::1]:8080', '::1'], ['[::1]', '::1'], ['example.com.', 'example.com'], ['h', 'h'],
  ];
  for (const [a, want] of table) assert.equal(authorityHost(a), want, a);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyUpstreamError, nextCluster, shouldRetry, statusClass, transitionSettled, type RetryFacts } from '../../../src/proxy/decide.ts';
import { REPLY_STATUS } from '../../../src/proxy/replies.ts';
import { ERROR_CODES } from '../../../src/errors.ts';

test('classifyUpstreamError maps socket and undici codes to proxy codes', () => {
  const table: Array<[string | undefined, string, number, boolean]> = [
    ['ECONNREFUSED', 'SWY_PROXY_UPSTREAM_UNREACHABLE', 502, true],
    ['EHOSTUNREACH', 'SWY_PROXY_UPSTREAM_UNREACHABLE', 502, true],
    ['ENOTFOUND', 'SWY_PROXY_UPSTREAM_UNREACHABLE', 502, true],
    ['UND_ERR_CONNECT_TIMEOUT', 'SWY_PROXY_CONNECT_TIMEOUT', 504, true],
    ['UND_ERR_HEADERS_TIMEOUT', 'SWY_PROXY_HEADERS_TIMEOUT', 504, false],
    ['UND_ERR_BODY_TIMEOUT', 'SWY_PROXY_IDLE_TIMEOUT', 504, false],
    ['ECONNRESET', 'SWY_PROXY_UPSTREAM_RESET', 502, false],
    ['UND_ERR_SOCKET', 'SWY_PROXY_UPSTREAM_RESET', 502, false],
    ['EPIPE', 'SWY_PROXY_UPSTREAM_RESET', 502, false],
    ['UND_ERR_INVALID_ARG', 'SWY_PROXY_BAD_REQUEST', 400, false],
    ['HPE_INVALID_CONSTANT', 'SWY_PROXY_UPSTREAM_ERROR', 502, false],
    [undefined, 'SWY_PROXY_UPSTREAM_ERROR', 502, false],
  ];
  for (const [code, want, status, connect] of table) {
    const got = classifyUpstreamError(code === undefined ? {} : { code });
    assert.deepEqual(got, { code: want, status, connectFailure: connect }, String(code));
    assert.equal(REPLY_STATUS[got.code], status, `${want} reply status`);
  }
});

test('every proxy reply code is in the error catalogue', () => {
  for (const code of Object.keys(REPLY_STATUS)) assert.ok(code in ERROR_CODES, code);
});

test('shouldRetry: once, before any response byte, idempotent or never sent', () => {
  const refused = classifyUpstreamError({ code: 'ECONNREFUSED' });
  const connectTimeout = classifyUpstreamError({ code: 'UND_ERR_CONNECT_TIMEOUT' });
  const reset = classifyUpstreamError({ code: 'ECONNRESET' });
  const headers = classifyUpstreamError({ code: 'UND_ERR_HEADERS_TIMEOUT' });
  const base: RetryFacts = { method: 'GET', attempt: 0, failure: refused, written: false, responseStarted: false, bodyReplayable: true };
  const table: Array<[Partial<RetryFacts>, boolean, string]> = [
    [{}, true, 'GET refused'],
    [{ method: 'POST' }, true, 'POST refused: never reached the upstream'],
    [{ method: 'POST', failure: connectTimeout }, true, 'POST connect timeout'],
    [{ attempt: 1 }, false, 'only one retry'],
    [{ failure: reset, written: true }, true, 'GET reset after sending'],
    [{ failure: reset, written: true, method: 'HEAD' }, true, 'HEAD reset'],
    [{ failure: reset, written: true, method: 'OPTIONS' }, true, 'OPTIONS reset'],
    [{ failure: reset, written: true, method: 'PUT' }, true, 'PUT reset, body replayable'],
    [{ failure: reset, written: true, method: 'DELETE' }, true, 'DELETE reset'],
    [{ failure: reset, written: true, method: 'TRACE' }, true, 'TRACE reset'],
    [{ failure: reset, written: true, method: 'POST' }, false, 'POST reset after sending'],
    [{ failure: reset, written: true, method: 'PATCH' }, false, 'PATCH reset after sending'],
    [{ failure: reset, written: false, method: 'POST' }, true, 'POST reset before it was written'],
    [{ failure: reset, written: true, method: 'PUT', bodyReplayable: false }, false, 'PUT whose body was already read'],
    [{ failure: reset, written: true, responseStarted: true }, false, 'GET after response bytes'],
    [{ failure: headers, written: true }, false, 'headers timeout: the upstream has the request'],
  ];
  for (const [facts, want, why] of table) assert.equal(shouldRetry({ ...base, ...facts }), want, why);
});

test('nextCluster: the next healthy cluster after the failed one, in configured order', () => {
  const all = () => true;
  assert.equal(nextCluster(['east', 'west'], 'east', all), 'west');
  assert.equal(nextCluster(['east', 'west'], 'west', all), 'east');
  assert.equal(nextCluster(['a', 'b', 'c'], 'b', all), 'c');
  assert.equal(nextCluster(['a', 'b', 'c'], 'c', all), 'a');
  assert.equal(nextCluster(['a', 'b', 'c'], 'a', (c) => c !== 'b'), 'c');
  assert.equal(nextCluster(['east', 'west'], 'east', (c) => c !== 'west'), undefined);
  assert.equal(nextCluster(['east'], 'east', all), undefined);
});

test('transitionSettled and statusClass', () => {
  const settled: Array<[string, boolean]> = [['steady', true], ['failed-over', true], ['held', true], ['suspect', true], ['failing-over', false], ['failing-back', false]];
  for (const [s, want] of settled) assert.equal(transitionSettled(s), want, s);
  const classes: Array<[number, string]> = [[101, '1xx'], [200, '2xx'], [204, '2xx'], [301, '3xx'], [404, '4xx'], [502, '5xx'], [599, '5xx'], [999, '5xx']];
  for (const [s, want] of classes) assert.equal(statusClass(s), want, String(s));
});

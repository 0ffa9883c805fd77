import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyUpstreamError, retryCluster, shouldRetry, statusClass, transitionSettled, type RetryFacts } from '../../../src/proxy/decide.ts';
import { PROXY_ERROR_CODES } from '../../../src/proxy/replies.ts';
import { httpStatusOf } from '../../../src/errors.ts';

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
    assert.equal(httpStatusOf(got.code), status, `${want} reply status in the catalogue`);
  }
});

test('every proxy code has a reply with an error status from the catalogue', () => {
  assert.equal(PROXY_ERROR_CODES.length, 13);
  for (const code of PROXY_ERROR_CODES) assert.ok(httpStatusOf(code) >= 400 && httpStatusOf(code) < 600, code);
});

test('shouldRetry: once, before any response byte, only when the request provably never reached the upstream', () => {
  const refused = classifyUpstreamError({ code: 'ECONNREFUSED' });
  const connectTimeout = classifyUpstreamError({ code: 'UND_ERR_CONNECT_TIMEOUT' });
  const reset = classifyUpstreamError({ code: 'ECONNRESET' });
  const headers = classifyUpstreamError({ code: 'UND_ERR_HEADERS_TIMEOUT' });
  const base: RetryFacts = { attempt: 0, failure: refused, written: false, responseStarted: false, bodyReplayable: true };
  const table: Array<[Partial<RetryFacts>, boolean, string]> = [
    [{}, true, 'refused'],
    [{ failure: connectTimeout }, true, 'connect timeout'],
    [{ attempt: 1 }, false, 'only one retry'],
    [{ failure: reset, written: true }, false, 'reset after sending: the upstream may have acted on it'],
    [{ failure: reset, written: false }, true, 'reset before it was written'],
    [{ failure: reset, written: false, bodyReplayable: false }, false, 'body already read'],
    [{ responseStarted: true }, false, 'after response bytes'],
    [{ failure: headers, written: true }, false, 'headers timeout: the upstream has the request'],
  ];
  for (const [facts, want, why] of table) assert.equal(shouldRetry({ ...base, ...facts }), want, why);
});

test('retryCluster: the healthy target of a transition in progress, or the new active; never the failed cluster, never at rest', () => {
  const all = () => true;
  assert.equal(retryCluster(null, 'east', 'east', all), undefined, 'at rest, the active failed: no retry');
  assert.equal(retryCluster('west', 'east', 'east', all), 'west', 'transition in progress: its target');
  assert.equal(retryCluster('west', 'west', 'west', all), undefined, 'the target itself failed: nowhere else to go');
  assert.equal(retryCluster(null, 'west', 'west', all), undefined, 'after a move the new active fails: never back to east');
  assert.equal(retryCluster(null, 'west', 'east', all), 'west', 'sent to east before routing moved: forward to the new active');
  assert.equal(retryCluster('west', 'east', 'east', (c) => c !== 'west'), undefined, 'target down');
  assert.equal(retryCluster('c', 'a', 'a', all), 'c', 'not the next in order: the transition target');
});

test('transitionSettled and statusClass', () => {
  const settled: Array<[string, boolean]> = [['steady', true], ['failed-over', true], ['held', true], ['suspect', true], ['failing-over', false], ['failing-back', false]];
  for (const [s, want] of settled) assert.equal(transitionSettled(s), want, s);
  const classes: Array<[number, string]> = [[101, '1xx'], [200, '2xx'], [204, '2xx'], [301, '3xx'], [404, '4xx'], [502, '5xx'], [599, '5xx'], [999, '5xx']];
  for (const [s, want] of classes) assert.equal(statusClass(s), want, String(s));
});

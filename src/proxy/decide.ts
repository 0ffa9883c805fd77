// Pure decisions of the forwarding path: what an upstream error means, whether a failed request
// may be sent again, and to which cluster.
import { httpStatusOf } from '../errors.ts';
import type { ProxyErrorCode } from './replies.ts';

export interface UpstreamFailure {
  code: ProxyErrorCode;
  status: number;
  /** The connection was never established, so the request provably never reached the upstream. */
  connectFailure: boolean;
}

const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTDOWN']);
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'ECONNABORTED']);

const failure = (code: ProxyErrorCode, connectFailure: boolean): UpstreamFailure => ({ code, status: httpStatusOf(code), connectFailure });

/** Maps an undici/socket error to the proxy's error code and reply status (the catalogue's). */
export function classifyUpstreamError(err: { code?: unknown }): UpstreamFailure {
  const code = typeof err.code === 'string' ? err.code : '';
  if (CONNECT_CODES.has(code)) return failure('SWY_PROXY_UPSTREAM_UNREACHABLE', true);
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return failure('SWY_PROXY_CONNECT_TIMEOUT', true);
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return failure('SWY_PROXY_HEADERS_TIMEOUT', false);
  if (code === 'UND_ERR_BODY_TIMEOUT') return failure('SWY_PROXY_IDLE_TIMEOUT', false);
  if (RESET_CODES.has(code)) return failure('SWY_PROXY_UPSTREAM_RESET', false);
  if (code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED') return failure('SWY_PROXY_BAD_REQUEST', false);
  return failure('SWY_PROXY_UPSTREAM_ERROR', false);
}

export interface RetryFacts {
  attempt: number;              // 0 for the first try
  failure: UpstreamFailure;
  written: boolean;             // undici put the request on a connection
  responseStarted: boolean;     // any response byte arrived
  bodyReplayable: boolean;      // no body, or not a byte of it read yet
}

/**
 * One retry, and only for a request that provably never reached the upstream: a connect failure,
 * or a reset before the request was written to the connection; never after a response byte, and
 * never when the body cannot be sent again. A reset after writing is not retried whatever the
 * method: the upstream may have acted on it.
 */
export function shouldRetry(f: RetryFacts): boolean {
  if (f.attempt > 0 || f.responseStarted || !f.bodyReplayable) return false;
  return f.failure.connectFailure || (!f.written && f.failure.code === 'SWY_PROXY_UPSTREAM_RESET');
}

/**
 * Where a retry may go: the target of the transition in progress (`retryTo` of the routing
 * snapshot) or, when none is, the active cluster if the request had been sent to another one
 * before routing moved; never the cluster that just failed, never one health reports down. At
 * rest (or held) a failure on the active cluster is not retried at all, and a request is never
 * sent back to the source of a move, nor to a passive side whose database is a standby.
 */
export function retryCluster(retryTo: string | null, active: string, failed: string, isHealthy: (cluster: string) => boolean): string | undefined {
  const to = retryTo ?? active;
  if (to === failed || !isHealthy(to)) return undefined;
  return to;
}

/** Whether tunnels to clusters other than the active one should be closed now. */
export function transitionSettled(state: string): boolean {
  return state !== 'failing-over' && state !== 'failing-back';
}

const CLASS_LABELS = ['1xx', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;
/** The metric label of a status code's class. */
export function statusClass(status: number): string {
  return CLASS_LABELS[Math.min(5, Math.max(1, Math.floor(status / 100)))];
}

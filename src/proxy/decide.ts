// Pure decisions of the forwarding path: what an upstream error means, whether a failed request
// may be sent again, and to which cluster.
import type { ProxyErrorCode } from './replies.ts';

export interface UpstreamFailure {
  code: ProxyErrorCode;
  status: number;
  /** The connection was never established, so the request provably never reached the upstream. */
  connectFailure: boolean;
}

const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTDOWN']);
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'ECONNABORTED']);

/** Maps an undici/socket error to the proxy's error code and reply status. */
export function classifyUpstreamError(err: { code?: unknown }): UpstreamFailure {
  const code = typeof err.code === 'string' ? err.code : '';
  if (CONNECT_CODES.has(code)) return { code: 'SWY_PROXY_UPSTREAM_UNREACHABLE', status: 502, connectFailure: true };
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return { code: 'SWY_PROXY_CONNECT_TIMEOUT', status: 504, connectFailure: true };
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return { code: 'SWY_PROXY_HEADERS_TIMEOUT', status: 504, connectFailure: false };
  if (code === 'UND_ERR_BODY_TIMEOUT') return { code: 'SWY_PROXY_IDLE_TIMEOUT', status: 504, connectFailure: false };
  if (RESET_CODES.has(code)) return { code: 'SWY_PROXY_UPSTREAM_RESET', status: 502, connectFailure: false };
  if (code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED') return { code: 'SWY_PROXY_BAD_REQUEST', status: 400, connectFailure: false };
  return { code: 'SWY_PROXY_UPSTREAM_ERROR', status: 502, connectFailure: false };
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

export interface RetryFacts {
  method: string;
  attempt: number;              // 0 for the first try
  failure: UpstreamFailure;
  written: boolean;             // undici put the request on a connection
  responseStarted: boolean;     // any response byte arrived
  bodyReplayable: boolean;      // no body, or not a byte of it read yet
}

/**
 * One retry, never after a response byte: any method when the request never left (connect
 * failure or not yet written); idempotent methods after a reset when the body can be sent again.
 */
export function shouldRetry(f: RetryFacts): boolean {
  if (f.attempt > 0 || f.responseStarted || !f.bodyReplayable) return false;
  if (f.failure.connectFailure || (!f.written && f.failure.code === 'SWY_PROXY_UPSTREAM_RESET')) return true;
  return f.failure.code === 'SWY_PROXY_UPSTREAM_RESET' && IDEMPOTENT.has(f.method);
}

/** The next cluster after `failed` in configured order that is healthy, or undefined. */
export function nextCluster(order: readonly string[], failed: string, isHealthy: (cluster: string) => boolean): string | undefined {
  const at = order.indexOf(failed);
  for (let i = 1; i < order.length; i++) {
    const name = order[(at + i) % order.length];
    if (name !== failed && isHealthy(name)) return name;
  }
  return undefined;
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

// An etcd v3 client over etcd's JSON gateway (POST /v3/kv/range, /v3/kv/txn, /v3/lease/*,
// /v3/watch) with undici, as Patroni's etcd3 DCS does. Why not the npm etcd3 package: it
// reports a lost lease only after etcd says so or after 2 × TTL, and a cut network can leave its
// keep-alive stream looking alive; here every keep-alive is one POST with its own timeout, so the
// caller knows exactly when the last one was acknowledged and can judge its own deadline.
//
// Several endpoints: requests go to the current one and move to the next on a failure that
// proves the request was not applied (connection refused, connect timeout, no leader), or on any
// failure of a request that is safe to repeat (reads, keep-alives). A transaction whose answer
// was lost is not repeated: it fails with SWY_STORE_OUTCOME_UNKNOWN, the caller re-reads.
import { readFile } from 'node:fs/promises';
import { Agent, request } from '../undici-parts.ts';
import { SwitchyardError, type ErrorCode } from '../errors.ts';
import type {
  Compare, Coordination, KeyValue, Lease, ReadResult, Txn, TxnOp, TxnResponse, TxnResult, WatchEvent, WatchHandle, WatchHandlers,
} from './coordination.ts';

export interface EtcdTls { ca?: string; cert?: string; key?: string }   // PEM text

export interface EtcdClientOptions {
  endpoints: string[];          // http(s)://host:port
  tls?: EtcdTls;
  username?: string;
  password?: string;
  /** Per request (connect + answer), ms. Default 2000. */
  requestTimeout?: number;
  /** Connect timeout, ms. Default 1000. */
  connectTimeout?: number;
  /** A watch stream silent for this long is re-opened from its revision, ms. Default 15000. */
  watchIdleTimeout?: number;
}

export interface EtcdClientDeps {
  /** Told each time requests move to another endpoint, and why. */
  onEndpointChange?(from: string, to: string, reason: string): void;
  setTimeout?: typeof setTimeout;
}

export interface EtcdClient extends Coordination {
  /** The endpoint requests go to now. */
  endpoint(): string;
}

/** Reads the PEM files named in the configuration; SWY_STORE_TLS when one cannot be read. */
export async function loadEtcdTls(paths: { ca?: string; cert?: string; key?: string }): Promise<EtcdTls> {
  const out: EtcdTls = {};
  for (const k of ['ca', 'cert', 'key'] as const) {
    const p = paths[k];
    if (p === undefined) continue;
    try {
      out[k] = await readFile(p, 'utf8');
    } catch (err) {
      throw new SwitchyardError('SWY_STORE_TLS', `cannot read state.etcd.tls.${k} ${p}: ${(err as Error).message}`, { path: p }, { cause: err });
    }
  }
  return out;
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined): string => (s === undefined ? '' : Buffer.from(s, 'base64').toString('utf8'));
const num = (s: unknown): number => (s === undefined || s === null ? 0 : Number(s));

/** The range end that makes `key` a prefix: the key with its last byte below 0xff incremented. */
export function prefixEnd(key: string): string {
  const bytes = Buffer.from(key, 'utf8');
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i] < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i] += 1;
      return end.toString('base64');
    }
  }
  return Buffer.from([0]).toString('base64');   // every key
}

const range = (key: string, prefix?: boolean): Record<string, string> => (prefix ? { key: b64(key), range_end: prefixEnd(key) } : { key: b64(key) });

function toKv(raw: Record<string, unknown>): KeyValue {
  return {
    key: unb64(raw.key as string),
    value: unb64(raw.value as string | undefined),
    createRevision: num(raw.create_revision),
    modRevision: num(raw.mod_revision),
    version: num(raw.version),
    lease: raw.lease === undefined ? '0' : String(raw.lease),
  };
}

const TARGETS = { create: 'CREATE', mod: 'MOD', version: 'VERSION', value: 'VALUE', lease: 'LEASE' } as const;
const RESULTS = { '=': 'EQUAL', '!=': 'NOT_EQUAL', '<': 'LESS', '>': 'GREATER' } as const;
const FIELDS = { create: 'create_revision', mod: 'mod_revision', version: 'version', value: 'value', lease: 'lease' } as const;

function compareJson(c: Compare): Record<string, string> {
  const value = c.target === 'value' ? b64(String(c.value)) : String(c.value);
  return { key: b64(c.key), target: TARGETS[c.target], result: RESULTS[c.op], [FIELDS[c.target]]: value };
}

function opJson(op: TxnOp): Record<string, unknown> {
  switch (op.type) {
    case 'put': return { request_put: { key: b64(op.key), value: b64(op.value), ...(op.lease ? { lease: op.lease } : {}) } };
    case 'delete': return { request_delete_range: range(op.key, op.prefix) };
    case 'range': return { request_range: range(op.key, op.prefix) };
  }
}

function responseOf(raw: Record<string, any>): TxnResponse {
  if (raw.response_range) return { type: 'range', kvs: ((raw.response_range.kvs ?? []) as Record<string, unknown>[]).map(toKv) };
  if (raw.response_delete_range) return { type: 'delete', deleted: num(raw.response_delete_range.deleted) };
  return { type: 'put' };
}

/** gRPC status codes etcd reports (google.golang.org/grpc/codes). */
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_UNAVAILABLE = 14;
const GRPC_UNAUTHENTICATED = 16;

/** An error answer from etcd (it was reached and said no). */
class EtcdAnswer extends Error {
  readonly grpcCode: number;
  readonly status: number;
  constructor(message: string, grpcCode: number, status: number) {
    super(message);
    this.grpcCode = grpcCode;
    this.status = status;
  }
}

/** Failures that prove the request never reached etcd (safe to send elsewhere). */
const NOT_SENT = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EAI_AGAIN']);

function errCode(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  if (typeof e?.code === 'string') return e.code;
  if (typeof e?.cause?.code === 'string') return e.cause.code;
  return '';
}

function parseAnswer(text: string, status: number): Record<string, any> {
  let body: Record<string, any>;
  try {
    body = JSON.parse(text) as Record<string, any>;
  } catch {
    if (status >= 400) throw new EtcdAnswer(`HTTP ${status}: ${text.slice(0, 200)}`, 2, status);
    throw new SwitchyardError('SWY_STORE_BAD_RESPONSE', `etcd answered HTTP ${status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  if (status >= 400 || body.error !== undefined) {
    const e = body.error;
    if (e !== null && typeof e === 'object') throw new EtcdAnswer(String(e.message), num(e.grpc_code), num(e.http_code) || status);
    throw new EtcdAnswer(String(body.message ?? e ?? `HTTP ${status}`), num(body.code), status);
  }
  return body;
}

export function createEtcdClient(options: EtcdClientOptions, deps: EtcdClientDeps = {}): EtcdClient {
  if (options.endpoints.length === 0) throw new SwitchyardError('SWY_STORE_UNAVAILABLE', 'no etcd endpoints configured');
  const endpoints = options.endpoints.map((e) => e.replace(/\/+$/, ''));
  const requestTimeout = options.requestTimeout ?? 2000;
  const connectTimeout = options.connectTimeout ?? 1000;
  const watchIdleTimeout = options.watchIdleTimeout ?? 15_000;
  const later = deps.setTimeout ?? setTimeout;
  const tls = options.tls ?? {};
  const agent = new Agent({
    allowH2: false,
    connectTimeout,
    keepAliveTimeout: 30_000,
    connect: { timeout: connectTimeout, ...(tls.ca ? { ca: tls.ca } : {}), ...(tls.cert ? { cert: tls.cert } : {}), ...(tls.key ? { key: tls.key } : {}) },
  });
  let current = 0;
  let token: string | undefined;
  let authenticating: Promise<void> | undefined;
  let closed = false;
  const watches = new Set<{ stop(): Promise<void> }>();

  const moveOn = (from: number, reason: string) => {
    if (current !== from || endpoints.length === 1) return;
    current = (from + 1) % endpoints.length;
    deps.onEndpointChange?.(endpoints[from], endpoints[current], reason);
  };

  const headers = (): Record<string, string> => ({ 'content-type': 'application/json', ...(token ? { authorization: token } : {}) });

  async function post(endpoint: string, path: string, body: unknown, timeout: number): Promise<Record<string, any>> {
    const res = await request(agent, {
      origin: endpoint,
      path,
      method: 'POST',
      headers: headers(),
      body: JSON.stringify(body),
      headersTimeout: timeout,
      bodyTimeout: timeout,
      signal: AbortSignal.timeout(timeout),
    });
    const text = await res.body.text();
    return parseAnswer(text, res.statusCode);
  }

  async function authenticate(endpoint: string): Promise<void> {
    if (options.username === undefined) return;
    authenticating ??= (async () => {
      token = undefined;
      try {
        const r = await post(endpoint, '/v3/auth/authenticate', { name: options.username, password: options.password ?? '' }, requestTimeout);
        token = typeof r.token === 'string' ? r.token : undefined;
      } catch (err) {
        if (err instanceof EtcdAnswer && /authentication is not enabled/.test(err.message)) return;
        if (err instanceof EtcdAnswer) throw new SwitchyardError('SWY_STORE_AUTH', `etcd ${endpoint} refused user ${options.username}: ${err.message}`, { endpoint, user: options.username });
        throw err;
      } finally {
        authenticating = undefined;
      }
    })();
    return authenticating;
  }

  /**
   * Sends one request, moving between endpoints. `repeatable`: the request may be sent again
   * after a failure that does not prove it was not applied (reads, keep-alives, revoke).
   */
  async function call(path: string, body: unknown, repeatable: boolean, what: string): Promise<Record<string, any>> {
    if (closed) throw new SwitchyardError('SWY_STORE_UNAVAILABLE', `etcd client is closed (${what})`);
    const failures: string[] = [];
    let reauthenticated = false;
    for (let attempt = 0; attempt < endpoints.length + 1; attempt++) {
      const at = current;
      const endpoint = endpoints[at];
      try {
        if (options.username !== undefined && token === undefined) await authenticate(endpoint);
        return await post(endpoint, path, body, requestTimeout);
      } catch (err) {
        if (err instanceof SwitchyardError) throw err;
        if (err instanceof EtcdAnswer) {
          if (err.grpcCode === GRPC_UNAUTHENTICATED || /invalid auth token|user name is empty|revision of auth store is old/.test(err.message)) {
            if (options.username === undefined) throw new SwitchyardError('SWY_STORE_AUTH', `etcd ${endpoint} requires authentication (${err.message}); set state.etcd.username and password`, { endpoint });
            if (reauthenticated) throw new SwitchyardError('SWY_STORE_AUTH', `etcd ${endpoint} refused the token it just issued: ${err.message}`, { endpoint });
            reauthenticated = true;
            token = undefined;
            attempt--;
            continue;
          }
          const noLeader = /no leader|not capable|leader changed|stopped/.test(err.message);
          if (err.grpcCode === GRPC_UNAVAILABLE || err.grpcCode === GRPC_DEADLINE_EXCEEDED || noLeader) {
            failures.push(`${endpoint}: ${err.message}`);
            // "no leader" proves the proposal was not made; a timed-out proposal may still commit.
            if (!repeatable && !noLeader) throw outcomeUnknown(what, failures);
            moveOn(at, err.message);
            continue;
          }
          const code: ErrorCode = /requested lease not found/.test(err.message) ? 'SWY_STORE_LEASE_EXPIRED' : 'SWY_STORE_REJECTED';
          throw new SwitchyardError(code, `etcd ${endpoint} refused ${what}: ${err.message}`, { endpoint, grpcCode: err.grpcCode, status: err.status });
        }
        const code = errCode(err);
        failures.push(`${endpoint}: ${code || (err as Error).message}`);
        if (!repeatable && !NOT_SENT.has(code)) throw outcomeUnknown(what, failures);
        moveOn(at, code || (err as Error).message);
      }
    }
    throw new SwitchyardError('SWY_STORE_UNAVAILABLE', `no etcd endpoint answered ${what} (${failures.join('; ')})`, { failures });
  }

  const outcomeUnknown = (what: string, failures: string[]) =>
    new SwitchyardError('SWY_STORE_OUTCOME_UNKNOWN', `${what} was sent but no answer came (${failures.join('; ')}); it may or may not have been applied`, { failures });

  async function read(key: string, opts: { prefix?: boolean } = {}): Promise<ReadResult> {
    const r = await call('/v3/kv/range', range(key, opts.prefix), true, `read ${key}`);
    return { revision: num(r.header?.revision), kvs: ((r.kvs ?? []) as Record<string, unknown>[]).map(toKv) };
  }

  async function txn(t: Txn): Promise<TxnResult> {
    const body = { compare: t.compare.map(compareJson), success: t.success.map(opJson), failure: (t.failure ?? []).map(opJson) };
    const r = await call('/v3/kv/txn', body, false, `transaction on ${t.compare.map((c) => c.key).join(', ') || t.success.map((o) => o.key).join(', ')}`);
    return { succeeded: r.succeeded === true, revision: num(r.header?.revision), responses: ((r.responses ?? []) as Record<string, any>[]).map(responseOf) };
  }

  async function leaseGrant(ttlSeconds: number): Promise<Lease> {
    // Repeating a grant at worst leaves an unused lease that expires on its own.
    const r = await call('/v3/lease/grant', { TTL: String(ttlSeconds) }, true, 'lease grant');
    if (r.ID === undefined) throw new SwitchyardError('SWY_STORE_BAD_RESPONSE', `etcd granted no lease: ${JSON.stringify(r).slice(0, 200)}`);
    return { id: String(r.ID), ttl: num(r.TTL) };
  }

  async function leaseKeepAlive(id: string): Promise<number> {
    const r = await call('/v3/lease/keepalive', { ID: id }, true, `keep-alive of lease ${id}`);
    const ttl = num(r.result?.TTL);
    if (ttl <= 0) throw new SwitchyardError('SWY_STORE_LEASE_EXPIRED', `lease ${id} has expired (etcd no longer knows it)`, { lease: id });
    return ttl;
  }

  async function leaseRevoke(id: string): Promise<void> {
    try {
      await call('/v3/lease/revoke', { ID: id }, true, `revoke of lease ${id}`);
    } catch (err) {
      if (err instanceof SwitchyardError && err.code === 'SWY_STORE_LEASE_EXPIRED') return;
      throw err;
    }
  }

  function watch(key: string, opts: { prefix?: boolean; fromRevision: number }, handlers: WatchHandlers): WatchHandle {
    let next = opts.fromRevision;
    let stopped = false;
    let abort: AbortController | undefined;
    let wake: (() => void) | undefined;
    const pause = (ms: number) => new Promise<void>((res) => {
      const t = later(() => { wake = undefined; res(); }, ms);
      wake = () => { clearTimeout(t); wake = undefined; res(); };
    });

    async function stream(): Promise<void> {
      const at = current;
      const endpoint = endpoints[at];
      abort = new AbortController();
      if (options.username !== undefined && token === undefined) await authenticate(endpoint);
      const res = await request(agent, {
        origin: endpoint,
        path: '/v3/watch',
        method: 'POST',
        // hasleader: a member cut off from the others cancels the watch instead of staying silent.
        headers: { ...headers(), 'grpc-metadata-hasleader': 'true' },
        body: JSON.stringify({ create_request: { ...range(key, opts.prefix), start_revision: String(next), progress_notify: true } }),
        headersTimeout: requestTimeout,
        bodyTimeout: watchIdleTimeout,
        signal: abort.signal,
      });
      if (res.statusCode >= 400) {
        const text = await res.body.text();
        parseAnswer(text, res.statusCode);
        throw new EtcdAnswer(`watch answered HTTP ${res.statusCode}`, 2, res.statusCode);
      }
      res.body.setEncoding('utf8');
      let buffer = '';
      for await (const chunk of res.body as AsyncIterable<string>) {
        buffer += chunk;
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl).trim();
          buffer = buffer.slice(nl + 1);
          if (line === '') continue;
          const msg = parseAnswer(line, 200);
          const result = (msg.result ?? {}) as Record<string, any>;
          if (result.created) { handlers.onOpen?.(next); continue; }
          if (num(result.compact_revision) > 0) {
            const snapshot = await read(key, { prefix: opts.prefix });
            next = snapshot.revision + 1;
            handlers.onReset(snapshot);
            return;   // re-open from the read's revision
          }
          if (result.canceled) throw new EtcdAnswer(`watch canceled by etcd: ${String(result.cancel_reason ?? 'no reason given')}`, GRPC_UNAVAILABLE, 200);
          const events = ((result.events ?? []) as Record<string, any>[]).map((e): WatchEvent => ({ type: e.type === 'DELETE' ? 'delete' : 'put', kv: toKv(e.kv ?? {}) }));
          if (events.length > 0) {
            next = events[events.length - 1].kv.modRevision + 1;
            handlers.onEvents(events, num(result.header?.revision));
          }
        }
      }
      throw new EtcdAnswer('watch stream ended', GRPC_UNAVAILABLE, 200);
    }

    const loop = (async () => {
      let backoff = 100;
      while (!stopped && !closed) {
        const at = current;
        const startedAt = Date.now();
        try {
          await stream();
          backoff = 100;
        } catch (err) {
          if (stopped || closed) break;
          const reason = err instanceof Error ? (errCode(err) || err.message) : String(err);
          handlers.onError?.(err instanceof SwitchyardError ? err : new SwitchyardError('SWY_STORE_WATCH_FAILED', `watch of ${key} on ${endpoints[at]} failed: ${reason}; re-opening from revision ${next}`, { endpoint: endpoints[at], revision: next }, { cause: err }));
          moveOn(at, reason);
          if (Date.now() - startedAt > 5000) backoff = 100;
          await pause(backoff);
          backoff = Math.min(backoff * 2, 2000);
        }
      }
    })();

    const handle = {
      async stop() {
        stopped = true;
        abort?.abort();
        wake?.();
        watches.delete(handle);
        await loop;
      },
    };
    watches.add(handle);
    return handle;
  }

  return {
    description: `etcd ${endpoints.join(',')}`,
    endpoint: () => endpoints[current],
    read,
    txn,
    leaseGrant,
    leaseKeepAlive,
    leaseRevoke,
    watch,
    async close() {
      await Promise.all([...watches].map((w) => w.stop()));
      closed = true;
      await agent.close();
    },
  };
}

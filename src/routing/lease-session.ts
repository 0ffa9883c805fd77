// This instance's lease on the coordination store: granted at start, kept alive with one
// request every `keepAliveEvery`, replaced by a new one when the store says it expired. The
// leader key and this instance's observations live under it, so they vanish when the instance
// stops renewing. The session records when the last acknowledged keep-alive was SENT: the lease
// cannot expire on the store before that moment + TTL, which is what the leader judges its
// deadline by, on its own monotonic clock.
import { isSwitchyardError, describeError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Coordination } from './coordination.ts';

export interface LeaseSessionOptions {
  ttlSeconds: number;
  /** Interval between keep-alives (and grant retries), ms. */
  keepAliveEvery: number;
}

export interface LeaseSessionDeps {
  store: Coordination;
  logger: Logger;
  /** Monotonic milliseconds. */
  now?: () => number;
}

export interface LeaseSession {
  start(): void;
  /** Stops renewing and revokes the lease (so its keys go at once). */
  stop(): Promise<void>;
  /** The lease in force, or null while none is granted. */
  id(): string | null;
  /** Monotonic time the last acknowledged keep-alive (or the grant) was sent; -Infinity when none. */
  ackedSentAt(): number;
  /** Whether the last keep-alive or grant attempt succeeded. */
  reachable(): boolean;
  /** The last store error, for status. */
  lastError(): string | null;
  /** Called with the new lease ID each time a lease is granted (first, and after an expiry). */
  onLease(fn: (id: string) => void): () => void;
  /** Called when the lease is found expired or the session stops. */
  onLost(fn: (why: string) => void): () => void;
  /** Called when reachable() changes (the store stopped or started answering keep-alives and grants). */
  onReachability(fn: (reachable: boolean) => void): () => void;
}

export function createLeaseSession(options: LeaseSessionOptions, deps: LeaseSessionDeps): LeaseSession {
  const now = deps.now ?? (() => performance.now());
  const log = deps.logger;
  let lease: string | null = null;
  let acked = -Infinity;
  let ok = false;
  let error: string | null = null;
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let inFlight: Promise<void> = Promise.resolve();
  const leaseFns = new Set<(id: string) => void>();
  const lostFns = new Set<(why: string) => void>();
  const reachFns = new Set<(ok: boolean) => void>();
  const setOk = (next: boolean) => {
    if (ok === next) return;
    ok = next;
    for (const fn of reachFns) fn(next);
  };

  const lose = (why: string) => {
    lease = null;
    acked = -Infinity;
    for (const fn of lostFns) fn(why);
  };

  async function round(): Promise<void> {
    const sentAt = now();
    try {
      if (lease === null) {
        const granted = await deps.store.leaseGrant(options.ttlSeconds);
        if (!running) { await deps.store.leaseRevoke(granted.id).catch(() => {}); return; }
        lease = granted.id;
        acked = sentAt;
        log.info({ lease: lease, ttl: granted.ttl }, `lease ${lease} granted (${granted.ttl} s)`);
        for (const fn of leaseFns) fn(granted.id);
      } else {
        await deps.store.leaseKeepAlive(lease);
        if (lease !== null) acked = Math.max(acked, sentAt);
      }
      if (!ok) log.info({ store: deps.store.description }, 'coordination store reachable');
      error = null;
      setOk(true);
    } catch (err) {
      error = describeError(err);
      if (ok) log.warn({ err: error, lease }, `coordination store unreachable: ${error}`);
      setOk(false);
      if (isSwitchyardError(err, 'SWY_STORE_LEASE_EXPIRED') && lease !== null) {
        log.warn({ lease }, `lease ${lease} expired: its leader key and observations are gone; granting a new one`);
        lose(`lease ${lease} expired`);
      }
    }
  }

  const schedule = (ms: number) => {
    if (!running) return;
    timer = setTimeout(() => {
      inFlight = round().finally(() => schedule(lease === null && ok ? 0 : options.keepAliveEvery));
    }, ms);
  };

  return {
    start() {
      if (running) return;
      running = true;
      schedule(0);
    },
    async stop() {
      running = false;
      clearTimeout(timer);
      await inFlight;
      const id = lease;
      if (id !== null) {
        lose('session stopped');
        await deps.store.leaseRevoke(id).catch((err) => log.warn({ err: describeError(err), lease: id }, 'could not revoke the lease; it expires on its own'));
      }
    },
    id: () => lease,
    ackedSentAt: () => acked,
    reachable: () => ok,
    lastError: () => error,
    onLease(fn) { leaseFns.add(fn); return () => { leaseFns.delete(fn); }; },
    onLost(fn) { lostFns.add(fn); return () => { lostFns.delete(fn); }; },
    onReachability(fn) { reachFns.add(fn); return () => { reachFns.delete(fn); }; },
  };
}

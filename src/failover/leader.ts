// Leader election on the coordination store. One leader key, created with create_revision == 0
// under this instance's lease; the term is that key's create revision, so terms only increase
// across leaders. The leader acts only while its lease cannot have expired on the store: until
// the last acknowledged keep-alive was sent + renewDeadline (TTL − margin), judged on its own
// monotonic clock at the moment of asking (term() returns null after it), without waiting for
// the store to tell it. Every state and journal write is also guarded by the key (guard()), so a
// leader that was paused past its lease cannot write on resume: leases are not fences, the
// guarded transaction is.
//
// Timing as client-go's leader election: leaseDuration > renewDeadline > 1.2 × retryPeriod.
import { SwitchyardError, describeError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Compare, Coordination } from '../routing/coordination.ts';
import type { LeaseSession } from '../routing/lease-session.ts';

export interface ElectionTiming {
  leaseDuration: number;   // ms: the lease TTL
  renewDeadline: number;   // ms: the leader acts until last acked keep-alive sent + this
  retryPeriod: number;     // ms: keep-alive and campaign interval
}

/** The timing derived from the lease TTL (seconds): client-go's 15 s / 10 s / 2 s, scaled. */
export function electionTiming(leaseTtlSeconds: number): ElectionTiming {
  const leaseDuration = leaseTtlSeconds * 1000;
  return { leaseDuration, renewDeadline: Math.floor(leaseDuration * 2 / 3), retryPeriod: Math.floor(leaseDuration / 7.5) };
}

/** Why a timing is unsafe, or null: client-go's rules, leaseDuration > renewDeadline > retryPeriod × 1.2. */
export function timingProblem(t: ElectionTiming): string | null {
  if (!(t.retryPeriod > 0)) return `retryPeriod must be positive (got ${t.retryPeriod} ms)`;
  if (!(t.renewDeadline > t.retryPeriod * 1.2)) return `renewDeadline (${t.renewDeadline} ms) must be longer than 1.2 × retryPeriod (${t.retryPeriod} ms)`;
  if (!(t.leaseDuration > t.renewDeadline)) return `leaseDuration (${t.leaseDuration} ms) must be longer than renewDeadline (${t.renewDeadline} ms)`;
  return null;
}

export interface LeaderInfo { name: string; term: number; lease: string }

export interface LeadershipChange { leading: boolean; term: number | null; leader: LeaderInfo | null; reason: string }

export interface LeaderElectionOptions {
  /** Key prefix shared by the instances, e.g. /switchyard/app. */
  prefix: string;
  instance: string;
  timing: ElectionTiming;
}

export interface LeaderElectionDeps {
  store: Coordination;
  session: LeaseSession;
  logger: Logger;
  now?: () => number;   // monotonic ms
}

export interface LeaderElection {
  start(): void;
  /** Stops campaigning; a leader deletes its key (guarded by its term) so another takes over at once. */
  stop(): Promise<void>;
  /** The term, if this instance leads and may still act now; null otherwise. Checked on the clock at each call. */
  term(): number | null;
  /** The compares every guarded write carries; throws SWY_STORE_NOT_LEADER when this instance may not act. */
  guard(): Compare[];
  /** The guarded write was refused by the store: step down now. */
  refused(reason: string): void;
  /** The leader as last read from the store (for status), this instance or another. */
  leader(): LeaderInfo | null;
  onChange(fn: (change: LeadershipChange) => void): () => void;
  readonly key: string;
}

export function createLeaderElection(options: LeaderElectionOptions, deps: LeaderElectionDeps): LeaderElection {
  const problem = timingProblem(options.timing);
  if (problem) throw new SwitchyardError('SWY_CONFIG_INVALID', `leader election timing: ${problem}`);
  const now = deps.now ?? (() => performance.now());
  const { store, session } = deps;
  const log = deps.logger.child({ component: 'leader', instance: options.instance });
  const key = `${options.prefix}/leader`;
  const { renewDeadline, retryPeriod } = options.timing;
  let myTerm: number | null = null;
  let myLease: string | null = null;
  let seen: LeaderInfo | null = null;
  let running = false;
  let timer: NodeJS.Timeout | undefined;
  let deadline: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> = Promise.resolve();
  const fns = new Set<(c: LeadershipChange) => void>();

  const emit = (reason: string) => {
    const change: LeadershipChange = { leading: myTerm !== null, term: myTerm, leader: seen, reason };
    for (const fn of fns) fn(change);
  };

  /** May this instance act now: it holds the key under the lease in force, and the lease cannot have expired. */
  const mayAct = (): boolean =>
    myTerm !== null && myLease !== null && session.id() === myLease && now() < session.ackedSentAt() + renewDeadline;

  const stepDown = (reason: string) => {
    clearTimeout(deadline);
    if (myTerm === null) return;
    log.warn({ term: myTerm, reason }, `stopped leading (term ${myTerm}): ${reason}`);
    myTerm = null;
    myLease = null;
    emit(reason);
  };

  /** Arms a timer for the moment the lease may expire, so the step-down does not wait for a round. */
  const armDeadline = () => {
    clearTimeout(deadline);
    if (myTerm === null) return;
    const ms = Math.max(0, session.ackedSentAt() + renewDeadline - now());
    deadline = setTimeout(() => {
      if (myTerm !== null && !mayAct()) stepDown(`no keep-alive acknowledged within ${renewDeadline} ms: the lease may expire, stopping on this clock`);
      else armDeadline();
    }, ms + 1);
  };

  async function round(): Promise<void> {
    const lease = session.id();
    if (myTerm !== null) {
      if (!mayAct()) { stepDown(lease !== myLease ? 'the lease holding the leader key was replaced' : `no keep-alive acknowledged within ${renewDeadline} ms`); return; }
      try {
        const r = await store.read(key);
        const kv = r.kvs[0];
        seen = kv ? { name: kv.value, term: kv.createRevision, lease: kv.lease } : null;
        if (!kv || kv.createRevision !== myTerm) stepDown(kv ? `the leader key now belongs to ${kv.value} (term ${kv.createRevision})` : 'the leader key is gone');
        else armDeadline();
      } catch (err) {
        log.debug({ err: describeError(err) }, 'could not re-read the leader key; the lease deadline still applies');
      }
      return;
    }
    if (lease === null) return;
    const sentAt = now();
    try {
      const r = await store.txn({
        compare: [{ key, target: 'create', op: '=', value: 0 }],
        success: [{ type: 'put', key, value: options.instance, lease }],
        failure: [{ type: 'range', key }],
      });
      if (r.succeeded) {
        // Act only if the lease was acknowledged recently enough that it is still valid now.
        if (session.id() !== lease || sentAt >= session.ackedSentAt() + renewDeadline || !running) {
          log.info({ term: r.revision }, 'won the leader key but the lease is no longer known to be valid; not acting');
          return;
        }
        myTerm = r.revision;
        myLease = lease;
        seen = { name: options.instance, term: r.revision, lease };
        log.info({ term: myTerm, lease }, `leading (term ${myTerm})`);
        armDeadline();
        emit('won the leader key');
        return;
      }
      const res = r.responses[0];
      const kv = res && res.type === 'range' ? res.kvs[0] : undefined;
      if (kv && kv.value === options.instance && kv.lease === lease) {
        // Our own key, under our live lease, yet we do not lead: we stepped down on our clock (a
        // stall past the renew deadline) and the lease survived it. Never resume that term (the
        // controller has already dropped it); give the key up, guarded by its term, so that the
        // next round (ours or another's) elects a new, higher term. Left alone, the key would
        // block every contender for as long as the lease lives, which is forever.
        await store.txn({ compare: [{ key, target: 'create', op: '=', value: kv.createRevision }], success: [{ type: 'delete', key }] });
        log.warn({ term: kv.createRevision }, `released the leader key of term ${kv.createRevision}, which this instance no longer acts on`);
        return;
      }
      const before = seen?.term;
      seen = kv ? { name: kv.value, term: kv.createRevision, lease: kv.lease } : null;
      if (seen && seen.term !== before) {
        log.info({ leader: seen.name, term: seen.term }, `${seen.name} leads (term ${seen.term})`);
        emit(`${seen.name} leads`);
      }
    } catch (err) {
      log.debug({ err: describeError(err) }, 'campaign round failed');
    }
  }

  const schedule = (ms: number) => {
    if (!running) return;
    timer = setTimeout(() => {
      inFlight = round().finally(() => schedule(retryPeriod));
    }, ms);
  };

  const offLost = session.onLost((why) => stepDown(why));

  return {
    key,
    start() {
      if (running) return;
      running = true;
      schedule(0);
    },
    async stop() {
      running = false;
      clearTimeout(timer);
      offLost();
      await inFlight;
      const term = myTerm;
      stepDown('stopping');
      if (term !== null) {
        await store.txn({ compare: [{ key, target: 'create', op: '=', value: term }], success: [{ type: 'delete', key }] })
          .catch((err) => log.warn({ err: describeError(err) }, 'could not delete the leader key; it goes with the lease'));
      }
    },
    term: () => (mayAct() ? myTerm : null),
    guard() {
      if (!mayAct()) {
        throw new SwitchyardError('SWY_STORE_NOT_LEADER', myTerm === null ? `${options.instance} is not the leader` : `${options.instance} may no longer act as leader (term ${myTerm}): its lease may have expired`, { instance: options.instance });
      }
      return [{ key, target: 'create', op: '=', value: myTerm! }];
    },
    refused(reason) { stepDown(`a guarded write was refused: ${reason}`); },
    leader: () => seen,
    onChange(fn) { fns.add(fn); return () => { fns.delete(fn); }; },
  };
}

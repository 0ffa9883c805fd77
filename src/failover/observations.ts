// Observations: every instance publishes its per-cluster verdicts under its own lease
// (`<prefix>/observations/<instance>`), on every change and every `publishEvery` (a sequence
// number makes each publication a change, so a live observer keeps looking fresh). Every instance
// watches the prefix and records, on ITS OWN monotonic clock, when it saw each observation change;
// the leader feeds that to quorumDecision. An observation vanishes with its instance's lease.
import { describeError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Coordination, KeyValue, WatchHandle } from '../routing/coordination.ts';
import type { LeaseSession } from '../routing/lease-session.ts';
import type { SeenObservation, Verdicts } from './quorum.ts';

export interface Observation {
  instance: string;
  verdicts: Verdicts;
  seq: number;
  /** The observer's wall-clock time, for people; never used to judge freshness. */
  at: string;
}

export interface ObservationsOptions { prefix: string; instance: string; publishEvery: number }

export interface ObservationsDeps {
  store: Coordination;
  session: LeaseSession;
  logger: Logger;
  /** This instance's current verdicts, cluster name → healthy (null: not known yet). */
  verdicts(): Verdicts;
  now?: () => number;         // monotonic ms
  wallClock?: () => Date;
}

export interface SeenEntry extends SeenObservation { observation: Observation; modRevision: number }

export interface Observations {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Publish now (call on every verdict change). */
  publish(): void;
  /** Every instance's observation as last seen, with when this instance saw it change. */
  seen(): SeenEntry[];
  /** Called when an instance's verdicts change (not on a mere republication) or its observation goes; returns an unsubscribe function. */
  onChange(fn: (instance: string) => void): () => void;
}

function parseObservation(kv: KeyValue): Observation | null {
  try {
    const v = JSON.parse(kv.value) as Observation;
    if (typeof v.instance !== 'string' || typeof v.seq !== 'number' || v.verdicts === null || typeof v.verdicts !== 'object') return null;
    return v;
  } catch {
    return null;
  }
}

export function createObservations(options: ObservationsOptions, deps: ObservationsDeps): Observations {
  const now = deps.now ?? (() => performance.now());
  const wall = deps.wallClock ?? (() => new Date());
  const log = deps.logger.child({ component: 'observations', instance: options.instance });
  const dir = `${options.prefix}/observations/`;
  const mine = `${dir}${options.instance}`;
  const entries = new Map<string, SeenEntry>();
  let seq = 0;
  let timer: NodeJS.Timeout | undefined;
  let watch: WatchHandle | undefined;
  let running = false;
  let publishing: Promise<void> | null = null;
  let again = false;
  const changeFns = new Set<(instance: string) => void>();
  const changed = (name: string) => { for (const fn of changeFns) fn(name); };
  const sameVerdicts = (a: Verdicts, b: Verdicts) => {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
  };

  const apply = (kv: KeyValue, deleted: boolean) => {
    const name = kv.key.slice(dir.length);
    if (deleted) { if (entries.delete(name)) changed(name); return; }
    const prev = entries.get(name);
    if (prev && prev.modRevision >= kv.modRevision) return;
    const observation = parseObservation(kv);
    if (!observation) { log.warn({ key: kv.key }, `ignoring a malformed observation at ${kv.key}`); return; }
    entries.set(name, { instance: name, verdicts: observation.verdicts, seenAt: now(), observation, modRevision: kv.modRevision });
    if (!prev || !sameVerdicts(prev.verdicts, observation.verdicts)) changed(name);
  };

  async function publishOnce(): Promise<void> {
    const lease = deps.session.id();
    if (lease === null) return;
    const body: Observation = { instance: options.instance, verdicts: deps.verdicts(), seq: ++seq, at: wall().toISOString() };
    try {
      await deps.store.txn({ compare: [], success: [{ type: 'put', key: mine, value: JSON.stringify(body), lease }] });
    } catch (err) {
      log.debug({ err: describeError(err) }, 'could not publish this instance\'s observation');
    }
  }

  const publish = () => {
    if (!running) return;
    if (publishing) { again = true; return; }
    publishing = publishOnce().finally(() => {
      publishing = null;
      if (again) { again = false; publish(); }
    });
  };

  const tick = () => {
    if (!running) return;
    publish();
    timer = setTimeout(tick, options.publishEvery);
  };

  const offLease = deps.session.onLease(() => publish());

  return {
    async start() {
      running = true;
      const r = await deps.store.read(dir, { prefix: true });
      for (const kv of r.kvs) apply(kv, false);
      watch = deps.store.watch(dir, { prefix: true, fromRevision: r.revision + 1 }, {
        onEvents(events) { for (const e of events) apply(e.kv, e.type === 'delete'); },
        onReset(read) {
          const present = new Set(read.kvs.map((kv) => kv.key.slice(dir.length)));
          for (const name of [...entries.keys()]) if (!present.has(name)) entries.delete(name);
          for (const kv of read.kvs) apply(kv, false);
        },
      });
      tick();
    },
    async stop() {
      running = false;
      clearTimeout(timer);
      offLease();
      await publishing;
      await watch?.stop();
    },
    publish,
    seen: () => [...entries.values()],
    onChange(fn) { changeFns.add(fn); return () => { changeFns.delete(fn); }; },
  };
}

// The database observer: every health interval, while the active cluster's database answers as
// a primary, records its WAL position, system identifier, timeline and pg_stat_replication
// (each standby's state and sync state), in memory and in the positions file. postgres-promote
// judges a failover against the last record when the source no longer answers, as Patroni does
// with the leader position it last published (maximum_lag_on_failover). In the same round it
// asks every other cluster's database one short read-only question (in recovery? received and
// replayed positions, replay paused, last replayed commit), so the status shows each
// database's role and each standby's lag. The observer never writes the routing state and
// never acts on a database: it only reads.
import { Counter, Gauge, type Registry } from '../prom-client-parts.ts';
import type { ClusterConfig } from '../config/index.ts';
import { describeError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { RoutingSource } from '../routing/index.ts';
import type { PositionBook, PositionRecord, PositionStore } from './positions.ts';
import { readSourcePosition, readTarget, type TargetState } from './steps/postgres-position.ts';
import { parseLsn, type SourcePosition } from './steps/replica-lag.ts';
import { describeDatabase, withPgSession, type PgQuery } from './steps/postgres-session.ts';

/**
 * What the last round saw of one cluster's database. `unknown` until the first round answered;
 * `unreachable` when the last question got no answer (the error says why).
 */
export interface DatabaseState {
  role: 'primary' | 'standby' | 'unreachable' | 'unknown';
  checkedAt: string | null;
  error: string | null;
  /** A primary (the active one): its current WAL position. A standby: the position it replayed. */
  lsn: string | null;
  /** A standby: WAL the active's primary has written and this standby has not replayed yet. */
  lagBytes: number | null;
  /** Of which not yet received (what a promotion right now would lose). */
  receiveLagBytes: number | null;
  /** A standby: seconds since its last replayed commit while WAL is pending replay, 0 when caught up, null when unknown. */
  lagSeconds: number | null;
  replayPaused: boolean;
  /** The active primary's pg_stat_replication row of this standby, matched by application_name; null when it does not list it. */
  replication: { state: string; syncState: string } | null;
  /** When the primary's position the lag is counted from was read (this round, or the last record when the primary did not answer). */
  sourceAt: string | null;
}

export interface DatabaseObserver extends PositionBook {
  /** Loads the stored records, then observes every interval until stop(). */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** One round: the active cluster's database, and every other one's role and lag (the timer calls it; tests may too). */
  observe(): Promise<PositionRecord | undefined>;
  /** The last round's view of each cluster with a database configured, by cluster name. */
  databases(): Record<string, DatabaseState>;
}

export interface DatabaseObserverOptions {
  clusters: readonly ClusterConfig[];
  intervalMs: number;
  /** Connect and statement timeout of one observation. */
  timeoutMs: number;
}

export interface DatabaseObserverDeps {
  routing: RoutingSource;
  store: PositionStore;
  logger: Logger;
  registry: Registry;
  now?: () => number;
}

const NOTHING_SEEN: DatabaseState = {
  role: 'unknown', checkedAt: null, error: null, lsn: null, lagBytes: null, receiveLagBytes: null, lagSeconds: null, replayPaused: false, replication: null, sourceAt: null,
};

const behind = (ahead: string, lsn: string): number => {
  const d = parseLsn(ahead) - parseLsn(lsn);
  return d > 0n ? Number(d) : 0;
};

/**
 * A standby's lag behind the source's position (read in the same round, or its last record):
 * bytes not replayed, bytes not even received, and seconds since its last replayed commit
 * while WAL is pending replay (0 when caught up; the commit timestamp says nothing once
 * everything is replayed). Pure.
 */
export function standbyLag(target: TargetState, source: (SourcePosition & { at: string }) | undefined): Omit<DatabaseState, 'role' | 'checkedAt'> {
  const o = target.observation;
  const out = { ...NOTHING_SEEN, lsn: o.replayLsn, replayPaused: o.paused };
  if (!source) return { ...out, error: 'no WAL position of the active primary is known yet: the lag is unknown' };
  if (source.systemIdentifier !== o.systemIdentifier) {
    return { ...out, sourceAt: source.at, error: `its system identifier ${o.systemIdentifier} is not the active primary's ${source.systemIdentifier}: it is not a copy of that database` };
  }
  const row = o.standbyName === null ? undefined : source.standbys.find((s) => s.applicationName === o.standbyName);
  const has = o.receiveLsn === null ? o.replayLsn : o.replayLsn === null || parseLsn(o.receiveLsn) >= parseLsn(o.replayLsn) ? o.receiveLsn : o.replayLsn;
  const lag = o.replayLsn === null ? null : behind(source.lsn, o.replayLsn);
  return {
    ...out,
    sourceAt: source.at,
    lagBytes: lag,
    receiveLagBytes: has === null ? null : behind(source.lsn, has),
    lagSeconds: lag === 0 ? 0 : lag === null || o.replayAgeSeconds === null ? null : Math.max(0, o.replayAgeSeconds),
    replication: row ? { state: row.state, syncState: row.syncState } : null,
  };
}

export function createDatabaseObserver(options: DatabaseObserverOptions, deps: DatabaseObserverDeps): DatabaseObserver {
  const log = deps.logger.child({ module: 'failover', part: 'database-observer' });
  const now = deps.now ?? Date.now;
  const records: Record<string, PositionRecord> = {};
  const recorded = new Gauge({ name: 'switchyard_failover_db_position_timestamp_seconds', help: 'When the WAL position of the cluster\'s database was last recorded (while it was the active primary)', labelNames: ['cluster'], registers: [deps.registry] });
  const failures = new Counter({ name: 'switchyard_failover_db_observe_failures_total', help: 'Observations of the active database that failed (unreachable, not a primary, or the record could not be saved)', labelNames: ['cluster', 'reason'], registers: [deps.registry] });
  const lagBytes = new Gauge({ name: 'switchyard_failover_db_lag_bytes', help: 'WAL the active primary wrote that this cluster\'s standby has not replayed yet (absent while unknown)', labelNames: ['cluster'], registers: [deps.registry] });
  const lagSeconds = new Gauge({ name: 'switchyard_failover_db_lag_seconds', help: 'Seconds since this cluster\'s standby replayed a commit, while WAL is pending replay; 0 when caught up (absent while unknown)', labelNames: ['cluster'], registers: [deps.registry] });
  const states: Record<string, DatabaseState> = {};
  for (const c of options.clusters) if (c.database) states[c.name] = { ...NOTHING_SEEN };
  const standbyProblems = new Map<string, string>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let inFlight: Promise<unknown> | null = null;
  let lastProblem = '';
  const shutdown = new AbortController();
  const session = <T>(url: string, fn: (query: PgQuery) => Promise<T>) =>
    withPgSession({ url, connectTimeoutMs: options.timeoutMs, statementTimeoutMs: options.timeoutMs, signal: shutdown.signal }, fn);

  const problem = (cluster: string, reason: string, text: string) => {
    failures.labels(cluster, reason).inc();
    if (text !== lastProblem) log.warn({ cluster, reason }, `cannot record the WAL position of ${cluster}'s database: ${text}`);
    lastProblem = text;
  };

  const show = (cluster: string, state: DatabaseState) => {
    states[cluster] = state;
    if (state.lagBytes === null) lagBytes.remove(cluster); else lagBytes.labels(cluster).set(state.lagBytes);
    if (state.lagSeconds === null) lagSeconds.remove(cluster); else lagSeconds.labels(cluster).set(state.lagSeconds);
  };

  async function observeActive(active: string, url: string): Promise<PositionRecord | undefined> {
    const checkedAt = () => new Date(now()).toISOString();
    let position;
    try {
      position = await session(url, readSourcePosition);
    } catch (err) {
      if (shutdown.signal.aborted) return undefined;
      const text = `${describeDatabase(url)}: ${describeError(err)}`;
      show(active, { ...NOTHING_SEEN, role: 'unreachable', checkedAt: checkedAt(), error: text });
      problem(active, 'unreachable', text);
      return undefined;
    }
    if (!position) {
      const text = `${describeDatabase(url)} is in recovery, not a primary`;
      show(active, { ...NOTHING_SEEN, role: 'standby', checkedAt: checkedAt(), error: `the active cluster's database is a standby: ${text}` });
      problem(active, 'not-primary', text);
      return undefined;
    }
    const record: PositionRecord = { cluster: active, at: checkedAt(), ...position };
    records[active] = record;
    show(active, { ...NOTHING_SEEN, role: 'primary', checkedAt: record.at, lsn: record.lsn });
    recorded.labels(active).set(now() / 1000);
    try {
      await deps.store.save(records);
    } catch (err) {
      problem(active, 'save', `saving to ${deps.store.description} failed: ${describeError(err)}`);
      return record;
    }
    if (lastProblem) log.info({ cluster: active, lsn: record.lsn }, `recording the WAL position of ${active}'s database again`);
    lastProblem = '';
    return record;
  }

  /** Another cluster's database: its role and, as a standby of the active one, its lag behind the source's position. */
  function standbyState(cluster: ClusterConfig, answer: { target: TargetState } | { err: unknown }, active: string, source: PositionRecord | undefined): DatabaseState {
    const url = cluster.database!.url;
    const checkedAt = new Date(now()).toISOString();
    if ('err' in answer) {
      const text = `${describeDatabase(url)}: ${describeError(answer.err)}`;
      if (standbyProblems.get(cluster.name) !== text) log.warn({ cluster: cluster.name }, `cannot read the role and lag of ${cluster.name}'s database: ${text}`);
      standbyProblems.set(cluster.name, text);
      return { ...NOTHING_SEEN, role: 'unreachable', checkedAt, error: text };
    }
    if (standbyProblems.delete(cluster.name)) log.info({ cluster: cluster.name }, `${cluster.name}'s database answers again`);
    const { target } = answer;
    // After a move this is the old primary: fenced (its clients cannot log in) or not (the unfenced banner), it is no standby until rebuilt.
    if (!target.inRecovery) return { ...NOTHING_SEEN, role: 'primary', checkedAt, error: `a primary too while ${active} is active (the old primary after a move, fenced or not): not a standby of ${active} until rebuilt from it` };
    return { ...standbyLag(target, source), role: 'standby', checkedAt };
  }

  async function observe(): Promise<PositionRecord | undefined> {
    const active = deps.routing.current().active;
    const url = options.clusters.find((c) => c.name === active)?.database?.url;
    const others = options.clusters.filter((c) => c.name !== active && c.database !== undefined);
    const [record, answers] = await Promise.all([
      url ? observeActive(active, url) : Promise.resolve(undefined),
      Promise.all(others.map((c) => session(c.database!.url, readTarget).then((target) => ({ target }), (err: unknown) => ({ err })))),
    ]);
    if (shutdown.signal.aborted) return record;
    others.forEach((c, i) => show(c.name, standbyState(c, answers[i], active, record ?? records[active])));
    return record;
  }

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      inFlight = observe().catch((err) => log.error({ err }, `database observation failed: ${describeError(err)}`)).finally(() => { inFlight = null; schedule(); });
    }, options.intervalMs);
    timer.unref();
  };

  return {
    get: (cluster) => records[cluster],
    observe,
    databases: () => ({ ...states }),
    async start() {
      try {
        Object.assign(records, await deps.store.load());
      } catch (err) {
        log.warn({ err: describeError(err) }, `ignoring the stored WAL positions (${deps.store.description}): ${describeError(err)}`);
      }
      for (const r of Object.values(records)) recorded.labels(r.cluster).set(Date.parse(r.at) / 1000);
      if (options.clusters.some((c) => c.database)) {
        inFlight = observe().catch(() => undefined).finally(() => { inFlight = null; schedule(); });
      }
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      shutdown.abort();
      await inFlight;
    },
  };
}

// The database observer: every health interval, while the active cluster's database answers as
// a primary, records its WAL position, system identifier, timeline and pg_stat_replication
// (each standby's state and sync state), in memory and in the positions file. postgres-promote
// judges a failover against the last record when the source no longer answers, as Patroni does
// with the leader position it last published (maximum_lag_on_failover). The observer never
// writes the routing state and never acts on a database: it only reads.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ClusterConfig } from '../config/index.ts';
import { describeError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { RoutingSource } from '../routing/index.ts';
import type { PositionBook, PositionRecord, PositionStore } from './positions.ts';
import { readSourcePosition } from './steps/postgres-position.ts';
import { describeDatabase, withPgSession } from './steps/postgres-session.ts';

export interface DatabaseObserver extends PositionBook {
  /** Loads the stored records, then observes every interval until stop(). */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** One observation of the active cluster's database (the timer calls it; tests may too). */
  observe(): Promise<PositionRecord | undefined>;
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

export function createDatabaseObserver(options: DatabaseObserverOptions, deps: DatabaseObserverDeps): DatabaseObserver {
  const log = deps.logger.child({ module: 'failover', part: 'database-observer' });
  const now = deps.now ?? Date.now;
  const records: Record<string, PositionRecord> = {};
  const recorded = new Gauge({ name: 'switchyard_failover_db_position_timestamp_seconds', help: 'When the WAL position of the cluster\'s database was last recorded (while it was the active primary)', labelNames: ['cluster'], registers: [deps.registry] });
  const failures = new Counter({ name: 'switchyard_failover_db_observe_failures_total', help: 'Observations of the active database that failed (unreachable, not a primary, or the record could not be saved)', labelNames: ['cluster', 'reason'], registers: [deps.registry] });
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let inFlight: Promise<unknown> | null = null;
  let lastProblem = '';
  const shutdown = new AbortController();

  const problem = (cluster: string, reason: string, text: string) => {
    failures.labels(cluster, reason).inc();
    if (text !== lastProblem) log.warn({ cluster, reason }, `cannot record the WAL position of ${cluster}'s database: ${text}`);
    lastProblem = text;
  };

  async function observe(): Promise<PositionRecord | undefined> {
    const active = deps.routing.current().active;
    const cluster = options.clusters.find((c) => c.name === active);
    const url = cluster?.database?.url;
    if (!url) return undefined;
    let position;
    try {
      position = await withPgSession({ url, connectTimeoutMs: options.timeoutMs, statementTimeoutMs: options.timeoutMs, signal: shutdown.signal }, readSourcePosition);
    } catch (err) {
      if (!shutdown.signal.aborted) problem(active, 'unreachable', `${describeDatabase(url)}: ${describeError(err)}`);
      return undefined;
    }
    if (!position) {
      problem(active, 'not-primary', `${describeDatabase(url)} is in recovery, not a primary`);
      return undefined;
    }
    const record: PositionRecord = { cluster: active, at: new Date(now()).toISOString(), ...position };
    records[active] = record;
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

// The health monitor: runs every probe of every cluster on its schedule, counts rise/fall,
// derives each cluster's verdict, and tells subscribers when a verdict changes. It decides
// nothing about traffic: the failover policy reads it.
import { Counter, Gauge, Histogram, type Registry } from '../prom-client-parts.ts';
import type { ClusterConfig, HealthConfig, ProbeConfig } from '../config/index.ts';
import { redactText } from '../config/index.ts';
import { describeError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { createProbeScheduler, systemTimers, type CheckResult, type ProbeScheduler, type Timers } from './scheduler.ts';
import { needsConfirmation, step, stepPassive, UNKNOWN, type ThresholdState, type Thresholds } from './thresholds.ts';
import type { ClusterHealth, HealthSource, Probe, ProbeStatus } from './types.ts';
import { clusterVerdict } from './verdict.ts';

export interface HealthMonitor extends HealthSource {
  /** Begins probing every probe of every cluster. */
  start(): void;
  /** Stops timers, aborts in-flight checks, closes probes. A stopped monitor does not start again. */
  stop(): Promise<void>;
}

export interface HealthMonitorOptions { clusters: ClusterConfig[]; health: HealthConfig }

export interface HealthMonitorDeps {
  logger: Logger;
  registry: Registry;
  createProbe: (cluster: ClusterConfig, probe: ProbeConfig) => Probe;
  now?: () => number;
  random?: () => number;
  timers?: Timers;
}

/** The name of the synthetic status entry that shows passive failures beside the probes. */
export const PASSIVE_PROBE = 'passive';

const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface ProbeEntry {
  name: string;
  probe: Probe;
  scheduler: ProbeScheduler;
  state: ThresholdState;
  status: ProbeStatus;
  /** A passive failure was counted since this probe's last check. */
  passiveCounted: boolean;
}

interface ClusterEntry {
  config: ClusterConfig;
  probes: ProbeEntry[];
  healthy: boolean | null;
  since: string | null;
  passive: ProbeStatus;
}

export function createHealthMonitor(options: HealthMonitorOptions, deps: HealthMonitorDeps): HealthMonitor {
  const { health } = options;
  const logger = deps.logger.child({ module: 'health' });
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const timers = deps.timers ?? systemTimers;
  const thresholds: Thresholds = { rise: health.rise, fall: health.fall };
  const iso = (t: number): string => new Date(t).toISOString();

  const probeUp = new Gauge({ name: 'switchyard_health_probe_up', help: 'Probe verdict after rise/fall: 1 up, 0 down, -1 not known yet', labelNames: ['cluster', 'probe'], registers: [deps.registry] });
  const clusterUp = new Gauge({ name: 'switchyard_health_cluster_up', help: 'Cluster verdict by healthyWhen: 1 up, 0 down, -1 not known yet', labelNames: ['cluster'], registers: [deps.registry] });
  const duration = new Histogram({ name: 'switchyard_health_probe_duration_seconds', help: 'Duration of health checks, failed ones included', labelNames: ['cluster', 'probe'], buckets: DURATION_BUCKETS, registers: [deps.registry] });
  const checks = new Counter({ name: 'switchyard_health_probe_checks_total', help: 'Health checks by result: success, failure, timeout', labelNames: ['cluster', 'probe', 'result'], registers: [deps.registry] });
  const passiveFailures = new Counter({ name: 'switchyard_health_passive_failures_total', help: 'Failures reported from outside the probes (e.g. the proxy could not reach the cluster)', labelNames: ['cluster'], registers: [deps.registry] });
  const gauge = (v: boolean | null): number => (v === null ? -1 : v ? 1 : 0);

  const subscribers = new Set<(cluster: ClusterHealth) => void>();
  const clusters = new Map<string, ClusterEntry>();
  let started = false;
  let stopped = false;

  for (const config of options.clusters) {
    const cluster: ClusterEntry = {
      config,
      probes: [],
      healthy: null,
      since: null,
      passive: { name: PASSIVE_PROBE, ok: null, latencyMs: null, error: null, checkedAt: null },
    };
    for (const probeConfig of config.probes) {
      const probe = deps.createProbe(config, probeConfig);
      const entry: ProbeEntry = {
        name: probe.name,
        probe,
        state: UNKNOWN,
        status: { name: probe.name, ok: null, latencyMs: null, error: null, checkedAt: null },
        passiveCounted: false,
        scheduler: createProbeScheduler({
          probe,
          interval: health.interval,
          timeout: probeConfig.timeout ?? health.timeout,
          jitter: health.jitter,
          confirmInterval: health.confirmInterval,
          onResult: (result) => record(cluster, entry, result),
        }, { now, random, timers }),
      };
      cluster.probes.push(entry);
      probeUp.set({ cluster: config.name, probe: entry.name }, -1);
    }
    clusterUp.set({ cluster: config.name }, -1);
    clusters.set(config.name, cluster);
  }

  function record(cluster: ClusterEntry, entry: ProbeEntry, result: CheckResult): boolean {
    const labels = { cluster: cluster.config.name, probe: entry.name };
    duration.observe(labels, result.durationMs / 1000);
    checks.inc({ ...labels, result: result.ok ? 'success' : result.timedOut ? 'timeout' : 'failure' });
    entry.passiveCounted = false;
    entry.status.latencyMs = result.durationMs;
    entry.status.checkedAt = iso(result.startedAt + result.durationMs);
    if (result.ok) {
      entry.status.error = null;
      if (cluster.passive.ok === false) {
        cluster.passive.ok = true;
        cluster.passive.error = null;
      }
    } else {
      entry.status.error = reasonOf(result.error);
      logger.debug({ cluster: cluster.config.name, probe: entry.name, error: entry.status.error, durationMs: result.durationMs }, `check of "${entry.name}" failed`);
    }
    const { state, changed } = step(entry.state, result.ok, thresholds);
    entry.state = state;
    if (changed) {
      entry.status.ok = state.up;
      probeUp.set(labels, gauge(state.up));
      logProbeChange(cluster, entry);
      updateCluster(cluster);
    }
    return needsConfirmation(state);
  }

  /** `3/3 checks of "NAME" failed (ECONNREFUSED)`, or without the name for the probe's own log line. */
  function checksWhy(entry: ProbeEntry, withName = true): string {
    const of = withName ? ` of "${entry.name}"` : '';
    return entry.state.up
      ? `${entry.state.successes}/${health.rise} checks${of} passed`
      : `${entry.state.failures}/${health.fall} checks${of} failed (${entry.status.error})`;
  }

  function logProbeChange(cluster: ClusterEntry, entry: ProbeEntry): void {
    const fields = { cluster: cluster.config.name, probe: entry.name, up: entry.state.up, error: entry.status.error };
    const line = `probe "${entry.name}" of cluster ${cluster.config.name} is ${entry.state.up ? 'up' : 'down'}: ${checksWhy(entry, false)}`;
    if (entry.state.up) logger.info(fields, line);
    else logger.warn(fields, line);
  }

  function updateCluster(cluster: ClusterEntry): void {
    const healthy = clusterVerdict(cluster.config.healthyWhen, cluster.probes.map((p) => p.state.up));
    if (healthy === cluster.healthy) return;
    cluster.healthy = healthy;
    cluster.since = iso(now());
    clusterUp.set({ cluster: cluster.config.name }, gauge(healthy));
    const name = cluster.config.name;
    if (healthy !== null) {
      const why = cluster.probes.filter((p) => p.state.up === healthy).map((p) => checksWhy(p)).join('; ');
      const fields = { cluster: name, healthy, healthyWhen: cluster.config.healthyWhen };
      if (healthy) logger.info(fields, `cluster ${name} is up: ${why}`);
      else logger.warn(fields, `cluster ${name} is down: ${why}`);
    }
    const snapshot = snapshotOf(cluster);
    for (const fn of subscribers) {
      try {
        fn(snapshot);
      } catch (err) {
        logger.error({ err, cluster: name }, `a health subscriber failed on the change of cluster ${name}`);
      }
    }
  }

  function snapshotOf(cluster: ClusterEntry): ClusterHealth {
    return {
      name: cluster.config.name,
      healthy: cluster.healthy,
      probes: [...cluster.probes.map((p) => ({ ...p.status })), { ...cluster.passive }],
      since: cluster.since,
    };
  }

  return {
    start() {
      if (started || stopped) return;
      started = true;
      for (const cluster of clusters.values()) for (const p of cluster.probes) p.scheduler.start();
      logger.info({ clusters: [...clusters.keys()], interval: health.interval, timeout: health.timeout, fall: health.fall, rise: health.rise }, 'health probes started');
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      const entries = [...clusters.values()].flatMap((c) => c.probes);
      await Promise.all(entries.map((p) => p.scheduler.stop()));
      const closed = await Promise.allSettled(entries.map((p) => p.probe.close?.()));
      closed.forEach((r, i) => {
        if (r.status === 'rejected') logger.warn({ err: r.reason, probe: entries[i].name }, `closing probe "${entries[i].name}" failed`);
      });
    },
    clusters() {
      return [...clusters.values()].map(snapshotOf);
    },
    subscribe(fn) {
      subscribers.add(fn);
      return () => {
        subscribers.delete(fn);
      };
    },
    reportPassiveFailure(name, reason) {
      const cluster = clusters.get(name);
      if (cluster === undefined) {
        logger.warn({ cluster: name, reason }, `passive failure reported for unknown cluster ${name}; ignored`);
        return;
      }
      passiveFailures.inc({ cluster: name });
      cluster.passive.ok = false;
      cluster.passive.error = reason;
      cluster.passive.checkedAt = iso(now());
      logger.debug({ cluster: name, reason }, `passive failure on cluster ${name}: ${reason}`);
      if (!started || stopped) return;
      for (const p of cluster.probes) {
        if (!p.passiveCounted) {
          p.state = stepPassive(p.state, thresholds);
          p.passiveCounted = true;
        }
        p.scheduler.confirmSoon();
      }
    },
  };
}

/** A short reason for logs and status: the error code for system errors (ECONNREFUSED), else the message. */
/** The failure as shown in status, the page and logs: credential patterns (URL userinfo, query strings) redacted. */
function reasonOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (err instanceof Error && typeof code === 'string' && !code.startsWith('SWY_')) {
    return redactText(err.message.includes(code) ? code : `${code}: ${err.message}`);
  }
  return redactText(err instanceof Error ? err.message : describeError(err));
}

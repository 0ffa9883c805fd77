// Parity in `serve`: the comparison every parity.interval (metrics per kind of difference, a log
// line when the set of differences changes), and the `parity` move precheck, which compares the
// source and target afresh before a move and blocks on a blocking difference or on parity unknown.
import { Counter, Gauge, type Registry } from '../prom-client-parts.ts';
import type { ClusterConfig, ParityConfig, ParityKind } from '../config/index.ts';
import { SwitchyardError, describeError } from '../errors.ts';
import type { KubernetesClientsFor } from '../kubernetes.ts';
import type { Logger } from '../log.ts';
import { compareClusters } from './collect.ts';
import { blockingFor, describeDifference, type ParityReport } from './compare.ts';

const KINDS: readonly ParityKind[] = ['image', 'capacity', 'configmap', 'secret', 'missing'];

export interface ParityMonitor {
  start(): void;
  stop(): Promise<void>;
  /** The last periodic reports (preferred cluster against each other one), or the error that made parity unknown. */
  last(): { reports: ParityReport[]; error: string | undefined; at: string | undefined };
  /** Runs one periodic comparison now (the timer calls it; tests may too). */
  checkNow(): Promise<void>;
  /** The `parity` move precheck (failover.prechecks), shaped as the failover controller's MovePrecheck. */
  readonly precheck: { name: string; timeout: number; check(move: { from: string; to: string }, signal: AbortSignal): Promise<void> };
}

export interface ParityMonitorDeps {
  clientsFor: KubernetesClientsFor;
  logger: Logger;
  registry: Registry;
  now?: () => number;
}

export function createParityMonitor(options: { parity: ParityConfig; clusters: readonly ClusterConfig[] }, deps: ParityMonitorDeps): ParityMonitor {
  const { parity, clusters } = options;
  const log = deps.logger.child({ module: 'parity' });
  const now = deps.now ?? Date.now;
  const cluster = (name: string) => clusters.find((c) => c.name === name)!;
  const pairs = clusters.slice(1).map((c): [ClusterConfig, ClusterConfig] => [clusters[0], c]);

  const differences = new Gauge({ name: 'switchyard_parity_differences', help: 'Differences between the clusters found by the last parity comparison, by kind: alert on it', labelNames: ['kind'], registers: [deps.registry] });
  const blockingGauge = new Gauge({ name: 'switchyard_parity_blocking', help: '1 when the last parity comparison found a blocking difference (the parity precheck would hold)', registers: [deps.registry] });
  const unknownGauge = new Gauge({ name: 'switchyard_parity_unknown', help: '1 when the last parity comparison could not read a cluster', registers: [deps.registry] });
  const lastCheck = new Gauge({ name: 'switchyard_parity_last_check_timestamp_seconds', help: 'When the last parity comparison finished', registers: [deps.registry] });
  const checks = new Counter({ name: 'switchyard_parity_checks_total', help: 'Parity comparisons by outcome (same, drift, unknown) and by who asked (periodic, precheck)', labelNames: ['outcome', 'trigger'], registers: [deps.registry] });
  for (const k of KINDS) differences.labels(k).set(0);

  let last: ReturnType<ParityMonitor['last']> = { reports: [], error: undefined, at: undefined };
  let lastSummary = '';
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const shutdown = new AbortController();

  async function checkNow(): Promise<void> {
    if (running) return running;
    running = (async () => {
      try {
        const reports = [];
        for (const pair of pairs) reports.push(await compareClusters(parity, pair, { clientsFor: deps.clientsFor, now, signal: shutdown.signal }));
        last = { reports, error: undefined, at: new Date(now()).toISOString() };
        const all = reports.flatMap((r) => r.differences);
        for (const k of KINDS) differences.labels(k).set(all.filter((d) => d.kind === k).length);
        blockingGauge.set(reports.some((r) => r.blocking) ? 1 : 0);
        unknownGauge.set(0);
        checks.labels(all.length === 0 ? 'same' : 'drift', 'periodic').inc();
        const summary = all.map(describeDifference).join('; ');
        if (summary !== lastSummary) {
          if (all.length === 0) log.info({ clusters: clusters.map((c) => c.name) }, 'parity: the clusters match');
          else log.warn({ differences: all.length, blocking: all.filter((d) => d.blocking).length, kinds: [...new Set(all.map((d) => d.kind))] }, `parity: ${all.length} difference(s) between the clusters: ${summary}`);
          lastSummary = summary;
        }
      } catch (err) {
        if (shutdown.signal.aborted) return;
        last = { reports: last.reports, error: describeError(err), at: new Date(now()).toISOString() };
        unknownGauge.set(1);
        checks.labels('unknown', 'periodic').inc();
        if (lastSummary !== `unknown ${describeError(err)}`) log.error({ err: describeError(err) }, `parity unknown: ${describeError(err)}`);
        lastSummary = `unknown ${describeError(err)}`;
      } finally {
        lastCheck.set(now() / 1000);
        running = undefined;
      }
    })();
    return running;
  }

  const precheck: ParityMonitor['precheck'] = {
    name: 'parity',
    timeout: parity.timeout + 1000,
    async check(move, signal) {
      let report: ParityReport;
      try {
        report = await compareClusters(parity, [cluster(move.from), cluster(move.to)], { clientsFor: deps.clientsFor, now, signal });
      } catch (err) {
        checks.labels('unknown', 'precheck').inc();
        throw err instanceof SwitchyardError ? err : new SwitchyardError('SWY_PARITY_UNKNOWN', `parity unknown: ${describeError(err)}`, undefined, { cause: err });
      }
      const blocking = blockingFor(report, move.to);
      checks.labels(report.differences.length === 0 ? 'same' : 'drift', 'precheck').inc();
      if (blocking.length > 0) {
        throw new SwitchyardError('SWY_PARITY_DRIFT', `${move.to} differs from ${move.from}: ${blocking.map(describeDifference).join('; ')}`, { differences: blocking });
      }
    },
  };

  return {
    start() {
      if (parity.interval === 0) return;
      void checkNow();
      timer = setInterval(() => { void checkNow(); }, parity.interval);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      shutdown.abort();
      await running;
    },
    last: () => last,
    checkNow,
    precheck,
  };
}

// The health module's public face: the monitor the composition root starts, and its types.
import type { Registry } from 'prom-client';
import type { ClusterConfig, HealthConfig, ProbeConfig } from '../config/index.ts';
import { SwitchyardError } from '../errors.ts';
import { createKubernetesClients, type KubernetesClientCache } from '../kubernetes.ts';
import type { Logger } from '../log.ts';
import { createHealthMonitor as createMonitor, type HealthMonitor } from './monitor.ts';
import { createProbe as createConfiguredProbe } from './probes/index.ts';
import type { Timers } from './scheduler.ts';
import type { Probe } from './types.ts';

export type { ClusterHealth, HealthSource, Probe, ProbeStatus } from './types.ts';
export type { HealthMonitor } from './monitor.ts';
export type { Timers } from './scheduler.ts';
export { PASSIVE_PROBE } from './monitor.ts';

export interface HealthMonitorDeps {
  logger: Logger;
  registry: Registry;
  /** Builds a probe; defaults to the http/tcp/kubernetes probes of src/health/probes. */
  createProbe?: (cluster: ClusterConfig, probe: ProbeConfig) => Probe;
  /**
   * Kubernetes clients shared with the rest of the process (the composition root closes them).
   * Without it the monitor makes its own, one set per cluster, and closes them on stop().
   */
  kubernetesClients?: KubernetesClientCache;
  now?: () => number;
  random?: () => number;
  timers?: Timers;
}

export function createHealthMonitor(options: { clusters: ClusterConfig[]; health: HealthConfig }, deps: HealthMonitorDeps): HealthMonitor {
  const cache: KubernetesClientCache = deps.kubernetesClients ?? new Map();
  const createProbe = deps.createProbe ?? ((cluster: ClusterConfig, probe: ProbeConfig) => createConfiguredProbe(cluster, probe, {
    kubernetesClients(c) {
      if (c.kubernetes === undefined) {
        const path = `clusters[${options.clusters.indexOf(c)}].kubernetes`;
        throw new SwitchyardError('SWY_CONFIG_INVALID', `${path} is required: cluster ${c.name} has a kubernetes probe`, { issues: [{ path, message: 'is required: a kubernetes probe needs the cluster\'s kubeconfig and context' }] });
      }
      return createKubernetesClients(c.kubernetes, { cache });
    },
  }));
  const monitor = createMonitor(options, { logger: deps.logger, registry: deps.registry, createProbe, now: deps.now, random: deps.random, timers: deps.timers });
  if (deps.kubernetesClients !== undefined) return monitor;
  return {
    ...monitor,
    async stop() {
      await monitor.stop();
      await Promise.allSettled([...cache.values()].map((c) => c.close()));
    },
  };
}

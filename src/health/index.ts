// The health module's public face: the monitor the composition root starts, and its types.
import type { Registry } from 'prom-client';
import type { ClusterConfig, HealthConfig, ProbeConfig } from '../config/index.ts';
import { SwitchyardError } from '../errors.ts';
import type { KubernetesClientsFor } from '../kubernetes.ts';
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
   * The clients of a cluster, for kubernetes probes (their owner closes them). Required when a
   * cluster has a kubernetes probe; the monitor never loads the Kubernetes client itself.
   */
  kubernetesClientsFor?: KubernetesClientsFor;
  now?: () => number;
  random?: () => number;
  timers?: Timers;
}

export function createHealthMonitor(options: { clusters: ClusterConfig[]; health: HealthConfig }, deps: HealthMonitorDeps): HealthMonitor {
  const createProbe = deps.createProbe ?? ((cluster: ClusterConfig, probe: ProbeConfig) => createConfiguredProbe(cluster, probe, {
    kubernetesClients(c) {
      if (c.kubernetes === undefined) {
        const path = `clusters[${options.clusters.indexOf(c)}].kubernetes`;
        throw new SwitchyardError('SWY_CONFIG_INVALID', `${path} is required: cluster ${c.name} has a kubernetes probe`, { issues: [{ path, message: 'is required: a kubernetes probe needs the cluster\'s kubeconfig and context' }] });
      }
      if (deps.kubernetesClientsFor === undefined) {
        throw new Error(`cluster ${c.name} has a kubernetes probe: pass deps.kubernetesClientsFor to createHealthMonitor`);
      }
      return deps.kubernetesClientsFor(c);
    },
  }));
  return createMonitor(options, { logger: deps.logger, registry: deps.registry, createProbe, now: deps.now, random: deps.random, timers: deps.timers });
}

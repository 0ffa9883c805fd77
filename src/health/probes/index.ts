// Builds the probe for one probe entry of a cluster's configuration.
import type { ClusterConfig, ProbeConfig } from '../../config/index.ts';
import type { KubernetesClients } from '../../kubernetes.ts';
import type { Probe } from '../types.ts';
import { createHttpProbe } from './http.ts';
import { createKubernetesProbe } from './kubernetes.ts';
import { createTcpProbe } from './tcp.ts';

export interface ProbeFactoryDeps {
  /** The Kubernetes clients of a cluster (only asked for clusters with kubernetes probes). */
  kubernetesClients(cluster: ClusterConfig): KubernetesClients;
}

export function createProbe(cluster: ClusterConfig, probe: ProbeConfig, deps: ProbeFactoryDeps): Probe {
  switch (probe.kind) {
    case 'http':
      return createHttpProbe(probe);
    case 'tcp':
      return createTcpProbe(probe);
    case 'kubernetes':
      return createKubernetesProbe(probe, { clients: deps.kubernetesClients(cluster) });
  }
}

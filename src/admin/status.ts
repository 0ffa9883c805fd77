// The /v1/status view: routing state beside per-cluster health. Pure: built from the two sources.
import type { Config, ListenAddress } from '../config/index.ts';
import type { ClusterHealth } from '../health/types.ts';
import type { RoutingState, StoreStatus, Transition, UnfencedSource } from '../routing/index.ts';

export interface StatusView {
  active: string;
  preferred: string;
  state: RoutingState['state'];
  reason: string;
  generation: number;
  epoch: number;
  automatic: boolean;
  clusters: Array<{ name: string; active: boolean; healthy: boolean | null; addresses: string[]; probes: ClusterHealth['probes']; since: string | null }>;
  lastTransition: Transition | null;
  updatedAt: string;
  /** The old primary of a move that could not be fenced and is not active: it may take writes. */
  unfenced: UnfencedSource | null;
  /** Whether the routing state is being written (false: a write failed or the file went missing). */
  store: StoreStatus & { description: string };
  /** Where this instance answers, so `switchyard drill` can check every answer converged. */
  endpoints: { hostnames: string[]; dns: string[]; proxy: string | null };
}

const hostPort = (l: ListenAddress): string => (l.family === 6 ? `[${l.host}]:${l.port}` : `${l.host}:${l.port}`);

const UNKNOWN_STORE: StatusView['store'] = { ok: true, error: null, since: '', lastWriteAt: null, restores: 0, description: 'unknown' };

export function buildStatus(state: RoutingState, config: Pick<Config, 'clusters' | 'failover' | 'hostnames' | 'dns' | 'proxy'>, health: readonly ClusterHealth[], store: StatusView['store'] = UNKNOWN_STORE): StatusView {
  const { clusters } = config;
  return {
    active: state.active,
    preferred: clusters[0].name,
    state: state.state,
    reason: state.reason,
    generation: state.generation,
    epoch: state.epoch,
    automatic: config.failover.automatic,
    clusters: clusters.map((c) => {
      const h = health.find((x) => x.name === c.name);
      return { name: c.name, active: c.name === state.active, healthy: h?.healthy ?? null, addresses: c.addresses, probes: h?.probes ?? [], since: h?.since ?? null };
    }),
    lastTransition: state.transition,
    updatedAt: state.updatedAt,
    unfenced: state.unfenced ?? null,
    store,
    endpoints: { hostnames: config.hostnames, dns: config.dns.listen.map(hostPort), proxy: config.proxy ? hostPort(config.proxy.listen) : null },
  };
}

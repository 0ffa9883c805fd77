// The /v1/status view: routing state beside per-cluster health. Pure: built from the two sources.
import type { DatabaseState } from '../failover/database-observer.ts';
import { summarizeReport, type ParityReport } from '../parity/index.ts';
import type { Config, ListenAddress } from '../config/index.ts';
import type { ClusterHealth } from '../health/types.ts';
import type { RoutingState, StoreStatus, Transition, UnfencedSource } from '../routing/index.ts';

/** Something a person must look at: the console's banner and the top of `switchyard status`. */
export interface Attention {
  kind: 'held' | 'active-down' | 'unfenced' | 'store';
  /** The error code of a hold (docs/errors.md); null for conditions without one. */
  code: string | null;
  message: string;
  /** What to do about it. */
  todo: string;
}

/**
 * A cluster's database as the database observer (src/failover) last saw it: its role, and for a
 * standby of the active cluster's primary its lag. Built by the observer; admin only shows it.
 */
export type DatabaseStatus = DatabaseState;

const DATABASE_NOT_SEEN: DatabaseStatus = {
  role: 'unknown', checkedAt: null, error: null, lsn: null, lagBytes: null, receiveLagBytes: null, lagSeconds: null, replayPaused: false, replication: null, sourceAt: null,
};

export interface StatusView {
  active: string;
  preferred: string;
  state: RoutingState['state'];
  reason: string;
  generation: number;
  epoch: number;
  automatic: boolean;
  clusters: Array<{ name: string; active: boolean; healthy: boolean | null; addresses: string[]; probes: ClusterHealth['probes']; since: string | null; database: DatabaseStatus | null }>;
  lastTransition: Transition | null;
  /** The old primary of a move that could not be fenced and is not active: it may take writes. */
  unfenced: UnfencedSource | null;
  /** Conditions that need a person, most urgent first; empty when none. */
  attention: Attention[];
  /** How to get back to the preferred cluster, when traffic is elsewhere; null on the preferred. */
  returnHint: string | null;
  updatedAt: string;
  /** Whether the routing state is being written (false: a write failed or the file went missing). */
  store: StoreStatus & { description: string };
  /** Where this instance answers, so `switchyard drill` can check every answer converged. */
  endpoints: { hostnames: string[]; dns: string[]; proxy: string | null };
  /** instance.name: unique among instances sharing a store. */
  instance: string;
  /** Several instances (state.etcd): leadership, store reachability, observations; null with the file store. */
  coordination: CoordinationView | null;
  /** The last periodic parity comparison (src/parity); null when there is no parity section or it runs only as a precheck (interval 0s). */
  parity: ParityStatus | null;
}

/**
 * Parity between the clusters as `serve`'s last periodic comparison found it: per compared pair
 * (the preferred cluster against each other one) its differences, never a ConfigMap or Secret value
 * (those are content digests). `error` is set when a cluster could not be read (parity unknown);
 * `checkedAt` is null until the first comparison ends.
 */
export interface ParityStatus {
  checkedAt: string | null;
  error: string | null;
  reports: ParityReport[];
}

/** The parity line(s) of the text views (the console's static page, `switchyard status`), without the time. */
export function parityLines(p: ParityStatus): string[] {
  if (p.error) return [`parity: unknown (${p.error})`];
  if (!p.checkedAt) return ['parity: not compared yet'];
  return p.reports.map((r) => summarizeReport(r));
}

/** Several instances on etcd: who leads, whether this instance reaches the store, what every instance observes. */
export interface CoordinationView {
  /** The leader as this instance last read it (itself or another); null when none is known. */
  leader: { name: string; term: number } | null;
  /** Whether this instance leads and may act now. */
  leading: boolean;
  /** This instance's term while it leads, else null. */
  term: number | null;
  /** Whether this instance's lease keep-alives reach etcd. */
  storeReachable: boolean;
  storeError: string | null;
  /** Since when the store is unreachable (ISO), null while reachable. */
  unreachableSince: string | null;
  /** The TTL of the hostnames' answers now (shortened while the store is unreachable). */
  answerTtl: number;
  /** failover.instances and failover.quorum. */
  instances: number;
  quorum: number;
  /** Each instance's latest observation: its verdicts, the observer's own time (`at`, for people) and its age on this instance's clock. */
  observations: Array<{ instance: string; verdicts: Record<string, boolean | null>; at: string; ageSeconds: number; fresh: boolean }>;
}

const hostPort = (l: ListenAddress): string => (l.family === 6 ? `[${l.host}]:${l.port}` : `${l.host}:${l.port}`);

const UNKNOWN_STORE: StatusView['store'] = { ok: true, error: null, since: '', lastWriteAt: null, restores: 0, description: 'unknown' };

/** The code of a hold, as the controller recorded it (a state written before holdCode existed: the generic one). */
const holdCode = (state: RoutingState): string => state.holdCode ?? 'SWY_FAILOVER_HELD';

const HOLD_TODO: Record<string, string> = {
  SWY_FAILOVER_STEP_FAILED: 'fix what the failed step needs (its error is in the journal), then run the same failover again: it resumes from that step; the runbook has the held-state procedure',
  SWY_FAILOVER_JOURNAL_MISMATCH: 'the steps changed under an unfinished move: restore the configuration it ran with, or check each step by hand and clear the hold with --force',
  SWY_FAILOVER_PRECHECK_FAILED: 'fix the failing precheck (see the reason), or break glass with \'switchyard failover --to CLUSTER --force\'',
  SWY_FAILOVER_HELD: 'a person decides: read the reason, then \'switchyard failover --to CLUSTER\' or \'switchyard failback\'',
};

export function attentionFor(state: RoutingState, clusters: StatusView['clusters'], store: StatusView['store'] = UNKNOWN_STORE): Attention[] {
  const out: Attention[] = [];
  if (state.state === 'held') {
    const code = holdCode(state);
    out.push({ kind: 'held', code, message: `failover is held: ${state.reason}`, todo: HOLD_TODO[code] });
  }
  const active = clusters.find((c) => c.active);
  if (active?.healthy === false) {
    const failing = active.probes.filter((p) => p.ok === false).map((p) => `${p.name}: ${p.error ?? 'failed'}`);
    out.push({ kind: 'active-down', code: null, message: `traffic goes to ${active.name}, which is down${failing.length ? ` (${failing.join('; ')})` : ''}`, todo: state.state === 'held' ? 'see the hold above' : 'switchyard moves it if automatic failover is on and a precheck allows; otherwise \'switchyard failover --to CLUSTER\'' });
  }
  if (state.unfenced) {
    const u = state.unfenced;
    out.push({ kind: 'unfenced', code: null, message: `the old primary ${u.cluster} (epoch ${u.epoch}) is not fenced since ${u.since}: ${u.detail}`, todo: `make sure ${u.cluster}'s database takes no writes (fence or stop it by hand); switchyard re-fences it when it answers` });
  }
  if (!store.ok && store.error?.code === 'SWY_STORE_UNAVAILABLE') {
    out.push({ kind: 'store', code: store.error.code, message: `this instance cannot reach the shared store (${store.description}) since ${store.since}: ${store.error.message}`, todo: 'nothing moves from this instance: it answers the last committed state with the shortened TTL and resumes by itself when etcd answers; check etcd\'s health and the network to it (runbook: the store is down)' });
  } else if (!store.ok) {
    const code = store.error?.code ?? null;
    const what = code === 'SWY_STATE_WRITE' ? 'cannot be written' : code === 'SWY_STATE_READ' ? 'cannot be read' : 'store is failing';
    out.push({ kind: 'store', code, message: `the routing state ${what} (${store.description}) since ${store.since}: ${store.error?.message ?? 'unknown error'}`, todo: 'no move can be recorded, so none happens: make the store writable and reachable again (a full disk, permissions, the store\'s host; runbook: state store); DNS keeps answering the current active cluster' });
  }
  return out;
}

/** `databases`: the database observer's view by cluster; a configured database it has not seen yet is `unknown`, an unconfigured one null. */
export function buildStatus(state: RoutingState, config: Pick<Config, 'clusters' | 'failover' | 'hostnames' | 'dns' | 'proxy'> & { instance?: Config['instance'] }, health: readonly ClusterHealth[], store: StatusView['store'] = UNKNOWN_STORE, databases: Readonly<Record<string, DatabaseStatus>> = {}, coordination: CoordinationView | null = null, parity: ParityStatus | null = null): StatusView {
  const { clusters } = config;
  const view: StatusView = {
    active: state.active,
    preferred: clusters[0].name,
    state: state.state,
    reason: state.reason,
    generation: state.generation,
    epoch: state.epoch,
    automatic: config.failover.automatic,
    clusters: clusters.map((c) => {
      const h = health.find((x) => x.name === c.name);
      return { name: c.name, active: c.name === state.active, healthy: h?.healthy ?? null, addresses: c.addresses, probes: h?.probes ?? [], since: h?.since ?? null, database: c.database === undefined ? null : databases[c.name] ?? DATABASE_NOT_SEEN };
    }),
    lastTransition: state.transition,
    unfenced: state.unfenced ?? null,
    attention: [],
    returnHint: state.active === clusters[0].name ? null : `${clusters[0].name} is the preferred cluster: once it is healthy${clusters[0].database ? ` and its database is a replica of ${state.active}'s` : ''}, return with 'switchyard failback'`,
    updatedAt: state.updatedAt,
    store,
    endpoints: { hostnames: config.hostnames, dns: config.dns.listen.map(hostPort), proxy: config.proxy ? hostPort(config.proxy.listen) : null },
    instance: config.instance?.name ?? '',
    coordination,
    parity,
  };
  view.attention = attentionFor(state, view.clusters, store);
  return view;
}

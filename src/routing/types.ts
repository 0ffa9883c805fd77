// The routing state: the one record that decides where traffic goes. Only the failover
// controller writes it (through Routing.commit); dns, proxy and admin read snapshots.

export type FailoverStateName = 'steady' | 'suspect' | 'precheck' | 'failing-over' | 'failed-over' | 'held' | 'failing-back';
export type TransitionKind = 'failover' | 'switchover' | 'failback';
/** `precheck`: what a step's precheck found before the move began (attempt 0), e.g. the target's timeline. `running`: the process a hook started. */
export type JournalPhase = 'precheck' | 'started' | 'running' | 'done' | 'failed' | 'skipped';

export type JournalFacts = Record<string, string | number | boolean | null>;

export interface JournalEntry {
  step: string;          // step name from config
  index: number;         // position in failover.steps
  phase: JournalPhase;
  attempt: number;
  at: string;            // ISO time
  error?: string;
  detail?: string;
  /** phase running: the process a hook started (exec), so a resume after a crash never overlaps it. */
  process?: ProcessIdentity;
  /** Figures a step reported (lag case and bytes, system identifier, timeline, fenced roles). */
  facts?: JournalFacts;
  /** Several instances: the term of the leader that wrote this entry (the leader key's create revision). */
  term?: number;
}

/** A process, identified beyond its pid: start time in clock ticks since boot (/proc/<pid>/stat), boot id, host. */
export interface ProcessIdentity { pid: number; startTicks: number | null; bootId: string | null; host: string }

export interface Transition {
  epoch: number;
  kind: TransitionKind;
  from: string;
  to: string;
  reason: string;
  forced: boolean;
  startedAt: string;
  finishedAt?: string;
  outcome?: 'completed' | 'held';
  journal: JournalEntry[];
  /** Several instances: the term of the leader that began the move (entries carry the term of whoever wrote them, a resuming leader's included). */
  term?: number;
}

export interface RoutingState {
  version: 1;
  generation: number;    // +1 on every write
  epoch: number;         // +1 when a move begins; hooks receive it
  active: string;        // the cluster whose addresses DNS answers and the proxy forwards to
  state: FailoverStateName;
  reason: string;        // why the state is what it is (held reason, suspect detail, ...)
  transition: Transition | null;   // the current or the last move
  /** While state is held: the hold's error code (docs/errors.md), so clients match on it, not on `reason`. */
  holdCode?: string;
  /** Present while the source of a move (the old primary) is known not to be fenced. */
  unfenced?: UnfencedSource;
  updatedAt: string;
}

/** An old primary that could not be fenced (unreachable at the time); re-fenced when it answers. */
export interface UnfencedSource {
  cluster: string;
  epoch: number;         // the move whose source it was
  since: string;         // ISO time it was found unfenced
  detail: string;
}

/** What the answering paths read: immutable, swapped whole on every change. */
export interface RoutingSnapshot {
  readonly generation: number;
  readonly epoch: number;
  readonly active: string;
  readonly state: FailoverStateName;
  /**
   * The target of the transition in progress (state failing-over or failing-back, not finished),
   * else null. The proxy retries a request that provably never reached the active upstream only
   * to this cluster: never to any other, so never back to the source of a move.
   */
  readonly retryTo: string | null;
  /**
   * True while this instance cannot reach the shared store (several instances on etcd): the state
   * is the last one committed that it saw, and may no longer be the latest. DNS answers it with
   * the shortened TTL (dns/ttl.ts) so caches come back soon once the store is reachable again.
   * Always false with the file store.
   */
  readonly stale: boolean;
}

export interface RoutingSource {
  current(): RoutingSnapshot;
  /** Calls fn synchronously after every committed change; returns an unsubscribe function. */
  subscribe(fn: (snapshot: RoutingSnapshot) => void): () => void;
}

export interface StateStore {
  readonly description: string;
  /** The stored state, or null when none was ever written. Throws SWY_STATE_READ / SWY_STATE_CORRUPT. */
  load(): Promise<RoutingState | null>;
  /** Writes `next` if the stored generation is still `expectedGeneration` (0: nothing stored). Throws SWY_STATE_CONFLICT / SWY_STATE_WRITE. */
  save(next: RoutingState, expectedGeneration: number): Promise<void>;
  /** Is the stored state still the one in memory? Run periodically; never throws. */
  check?(current: RoutingState): Promise<StoreCheck>;
  /** Writes `current` whatever is stored (the stored state went missing). Throws SWY_STATE_WRITE. */
  restore?(current: RoutingState): Promise<void>;
  /** What load() had to do beyond reading (e.g. restored the state from its second copy); drained by the call. */
  notices?(): StoreNotice[];
}

export type StoreCheck =
  | { ok: true }
  | { ok: false; problem: 'missing' | 'changed' | 'unreadable' | 'copy'; code: 'SWY_STATE_MISSING' | 'SWY_STATE_CONFLICT' | 'SWY_STATE_READ' | 'SWY_STATE_WRITE'; message: string };

export interface StoreNotice { code: 'SWY_STATE_MISSING'; message: string }

/** Whether the routing state is being written: shown in status, a metric, an alert and a notification. */
export interface StoreStatus {
  ok: boolean;
  /** Why not, with its code (SWY_STATE_WRITE, SWY_STATE_MISSING, ...); null while ok. */
  error: { code: string; message: string } | null;
  /** Since when the current ok/failing status holds (ISO). */
  since: string;
  /** Last successful write (ISO), null before the first in this process. */
  lastWriteAt: string | null;
  /** Times the stored state was found missing and rewritten from memory (or restored from its copy at start). */
  restores: number;
}

export type StoreEvent =
  | { kind: 'failure'; code: string; message: string }
  | { kind: 'recovered'; message: string }
  | { kind: 'restored'; code: 'SWY_STATE_MISSING'; message: string };

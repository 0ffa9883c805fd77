// The routing state: the one record that decides where traffic goes. Only the failover
// controller writes it (through Routing.commit); dns, proxy and admin read snapshots.

export type FailoverStateName = 'steady' | 'suspect' | 'precheck' | 'failing-over' | 'failed-over' | 'held' | 'failing-back';
export type TransitionKind = 'failover' | 'switchover' | 'failback';
/** `precheck`: what a step's precheck found before the move began (attempt 0), e.g. the target's timeline. */
export type JournalPhase = 'precheck' | 'started' | 'done' | 'failed' | 'skipped';

export type JournalFacts = Record<string, string | number | boolean | null>;

export interface JournalEntry {
  step: string;          // step name from config
  index: number;         // position in failover.steps
  phase: JournalPhase;
  attempt: number;
  at: string;            // ISO time
  error?: string;
  detail?: string;
  /** Figures a step reported (lag case and bytes, system identifier, timeline, fenced roles). */
  facts?: JournalFacts;
}

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
}

export interface RoutingState {
  version: 1;
  generation: number;    // +1 on every write
  epoch: number;         // +1 when a move begins; hooks receive it
  active: string;        // the cluster whose addresses DNS answers and the proxy forwards to
  state: FailoverStateName;
  reason: string;        // why the state is what it is (held reason, suspect detail, ...)
  transition: Transition | null;   // the current or the last move
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
}

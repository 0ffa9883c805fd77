// The contract every failover step implements. Steps are idempotent: the controller may run a
// step again after a crash (the journal says it started but not that it finished), and the
// step must then do nothing harmful (an already promoted database counts as done).
import type { Logger } from '../log.ts';
import type { ClusterConfig, StepConfig } from '../config/index.ts';
import type { JournalEntry, JournalFacts, ProcessIdentity, TransitionKind } from '../routing/index.ts';

export interface StepContext {
  epoch: number;
  kind: TransitionKind;
  source: ClusterConfig;        // the cluster traffic moves away from
  target: ClusterConfig;        // the cluster traffic moves to
  reason: string;
  forced: boolean;              // --force: prechecks that fail are logged, not blocking
  idempotencyKey: string;       // `switchyard:<epoch>:<step name>`, stable across retries and restarts
  attempt: number;              // 1-based
  signal: AbortSignal;          // aborted on the step's timeout or on shutdown
  logger: Logger;
  /** The last process this step's journal recorded in this transition (a run interrupted by a crash may still be alive). */
  previousProcess?: ProcessIdentity;
  /** Journals the process the step just started (phase running), before it is waited for. */
  recordProcess?(process: ProcessIdentity): Promise<void>;
  /** This transition's journal so far (empty in prechecks): precheck facts and earlier attempts. */
  journal: readonly JournalEntry[];
}

export interface StepOutcome {
  detail?: string;
  /** Figures for the journal entry (precheck or done). */
  facts?: JournalFacts;
  /** postgres-fence: what became of the source. `unreachable` makes the controller record it unfenced and keep trying. */
  sourceFence?: 'fenced' | 'unreachable' | 'standby' | 'none';
  /** switch-traffic: make this cluster active in the same state write as the step's `done` entry. */
  switchTo?: string;
}

export interface Step {
  readonly config: StepConfig;
  /** Checks run for every step before the first step moves anything. Throw a SwitchyardError to block. */
  precheck?(ctx: StepContext): Promise<StepOutcome | void>;
  run(ctx: StepContext): Promise<StepOutcome | void>;
  close?(): Promise<void>;
}

/**
 * A precheck of the move as a whole, not of a step (failover.prechecks: parity). It runs with the
 * step prechecks, before anything moves; a throw blocks the move (--force overrides, as for steps).
 */
export interface MovePrecheck {
  readonly name: string;
  readonly timeout: number;
  check(move: { kind: TransitionKind; from: string; to: string }, signal: AbortSignal): Promise<void>;
}

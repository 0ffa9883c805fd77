// The evaluator: the policy in, a decision out, and the decision handed on. It reads health and
// the routing state, asks `decide` (policy.ts, pure) what should happen, and either commits the
// policy's state (steady, suspect, failed-over, held), prechecks and begins an automatic
// failover through the runner, or resumes a move nobody is running. It never runs steps itself.
//
// Leadership (issue #8) hooks in at two marked places: `evaluate` (evaluate only while leading)
// and `automaticFailover` (the quorum gate before an automatic failover).
import { describeError, isSwitchyardError } from '../errors.ts';
import type { HealthSource } from '../health/types.ts';
import type { Logger } from '../log.ts';
import { moveInProgress, transitions as T, type Routing } from '../routing/index.ts';
import { decide, type Decision } from './policy.ts';
import type { TransitionRunner } from './runner.ts';

/** How long a failed automatic precheck (while held) or a failed resume waits before the next try. */
export const RETRY_MS = 5000;

export interface EvaluatorOptions { clusters: readonly string[]; automatic: boolean; cooldownMs: number }

export interface EvaluatorDeps {
  routing: Routing;
  health: HealthSource;
  runner: TransitionRunner;
  logger: Logger;
  now: () => number;
  /** Called first in every evaluation (re-fencing an unfenced old primary; never awaited). */
  beforeEach?: () => void;
}

export interface Evaluator {
  /** One evaluation; concurrent calls coalesce into one more run after the current one. Never throws. */
  evaluate(): Promise<void>;
  /** Marks a resume as just tried (the controller's start resumed the move itself). */
  resumed(): void;
}

export function createEvaluator(options: EvaluatorOptions, deps: EvaluatorDeps): Evaluator {
  const { routing, runner, now } = deps;
  const log = deps.logger;
  let lastAutoPrecheck = 0;
  let lastResume = 0;
  let evaluating = false;
  let again = false;

  /** An automatic failover: commit `precheck`, run the prechecks, hold on a failure, else begin. */
  async function automaticFailover(decision: Extract<Decision, { action: 'failover' }>, epoch: number): Promise<void> {
    // Seam for the quorum (issue #8): ask deps.quorum(from, to) here and hold when it says no.
    const { from, to, reason } = decision;
    await runner.exclusive(async () => {
      await runner.commit((s) => T.precheck(s, `${reason}; prechecking a failover to ${to}`));
      const { failures, entries } = await runner.precheck({ epoch: epoch + 1, kind: 'failover', from, to, reason, forced: false });
      if (runner.halted()) return;
      if (failures.length > 0) {
        await runner.hold(`${reason}; failover to ${to} blocked by prechecks: ${failures.join('; ')} ('switchyard failover --to ${to} --force' overrides)`, 'SWY_FAILOVER_PRECHECK_FAILED');
        return;
      }
      await runner.begin({ kind: 'failover', from, to, reason, forced: false }, entries);
    });
  }

  async function evaluateOnce(): Promise<void> {
    deps.beforeEach?.();
    const state = routing.state();
    if (moveInProgress(state)) {
      // An unfinished move with nobody running it (a state write failed mid-way): resume it.
      if (now() - lastResume < RETRY_MS) return;
      lastResume = now();
      log.warn({ epoch: state.transition.epoch }, `resuming the interrupted ${state.transition.kind} ${state.transition.from}→${state.transition.to} from the journal`);
      await runner.exclusive(runner.execute);
      return;
    }
    const decision = decide({ state, health: deps.health.clusters(), clusters: options.clusters, automatic: options.automatic, cooldownMs: options.cooldownMs, now: now() });
    if (decision.action === 'none') return;
    if (decision.action === 'set-state') {
      if (decision.state === 'held') {
        log.error({ reason: decision.reason }, `failover held: ${decision.reason}`);
        await runner.commit((s) => T.holdAtRest(s, 'SWY_FAILOVER_HELD', decision.reason));
      } else {
        const next = decision.state;
        log.info({ state: next }, `state ${state.state} → ${next}: ${decision.reason}`);
        await runner.commit((s) => T.settle(s, next, decision.reason));
      }
      runner.tell(decision.reason, 'SWY_FAILOVER_HELD');
      return;
    }
    if (state.state === 'held' && now() - lastAutoPrecheck < RETRY_MS) return;
    lastAutoPrecheck = now();
    await automaticFailover(decision, state.epoch);
  }

  async function evaluate(): Promise<void> {
    // Seam for leadership (issue #8): return here while this instance does not lead.
    if (runner.halted()) return;
    if (evaluating || runner.busy()) { again = true; return; }
    evaluating = true;
    try {
      do {
        again = false;
        await evaluateOnce();
      } while (again && !runner.halted() && !runner.busy());
    } catch (err) {
      if (!isSwitchyardError(err, 'SWY_FAILOVER_IN_PROGRESS')) log.error({ err }, `failover evaluation failed: ${describeError(err)}`);
    } finally {
      evaluating = false;
    }
  }

  return { evaluate, resumed: () => { lastResume = now(); } };
}

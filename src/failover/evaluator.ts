// The evaluator: the policy in, a decision out, and the decision handed on. It reads health and
// the routing state, asks `decide` (policy.ts, pure) what should happen, and either commits the
// policy's state (steady, suspect, failed-over, held), prechecks and begins an automatic
// failover through the runner, or resumes a move nobody is running. It never runs steps itself.
//
// Several instances: `evaluate` does nothing while this instance does not lead (asked at every
// call: the term is judged on the clock), and an automatic failover also needs the quorum of
// fresh observations (`deps.quorum`); without it the state goes (or stays) `suspect` with the
// quorum's reason, and nothing moves. Conversely, when a quorum sees the active down while this
// instance's own probes still pass (the leader's path to it is the healthy one), the policy is
// given the quorum's verdict: the decision is the quorum's, never one observer's.
import { describeError, isSwitchyardError } from '../errors.ts';
import type { ClusterHealth, HealthSource } from '../health/types.ts';
import type { Logger } from '../log.ts';
import { moveInProgress, transitions as T, type Routing } from '../routing/index.ts';
import { decide, type Decision } from './policy.ts';
import type { TransitionRunner } from './runner.ts';
import type { FailoverLeadership } from './controller.ts';

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
  /** Several instances: evaluate only while this instance leads. */
  leadership?: FailoverLeadership;
  /** Several instances: may the automatic failover from `active` to `target` go ahead (quorum.ts)? */
  quorum?: (active: string, target: string) => { allowed: boolean; reason: string };
}

export interface Evaluator {
  /** One evaluation; concurrent calls coalesce into one more run after the current one. Never throws. */
  evaluate(): Promise<void>;
  /** Marks a resume as just tried (the controller's start resumed the move itself). */
  resumed(): void;
  /** Forgets the last resume, so the next evaluation resumes an unfinished move at once (this instance just became leader). */
  resumeNow(): void;
}

const verdictText = (h: ClusterHealth | undefined): string => (h?.healthy === true ? 'up' : h?.healthy === false ? 'down' : 'without a verdict');

export function createEvaluator(options: EvaluatorOptions, deps: EvaluatorDeps): Evaluator {
  const { routing, runner, now } = deps;
  const log = deps.logger;
  let lastAutoPrecheck = 0;
  let lastResume = 0;
  let evaluating = false;
  let again = false;
  let lastQuorumReason: string | null = null;

  /** An automatic failover: commit `precheck`, run the prechecks, hold on a failure, else begin. */
  async function automaticFailover(decision: Extract<Decision, { action: 'failover' }>, epoch: number): Promise<void> {
    const { from, to, reason } = decision;
    if (deps.quorum) {
      const q = deps.quorum(from, to);
      if (!q.allowed) {
        const why = `${reason}; no failover to ${to} without a quorum: ${q.reason}`;
        const changed = q.reason !== lastQuorumReason;
        if (changed) log.warn({ from, to, quorum: q.reason }, why);
        lastQuorumReason = q.reason;
        // Shown as suspect (shortened TTL everywhere) with the quorum's reason; written again only when that reason changes.
        const s = routing.state();
        if (s.state === 'steady' || (s.state === 'suspect' && changed)) await runner.commit((x) => T.settle(x, 'suspect', why));
        return;
      }
      log.warn({ from, to, quorum: q.reason }, `quorum for a failover ${from}→${to}: ${q.reason}`);
      lastQuorumReason = null;
    }
    await runner.exclusive(async () => {
      await runner.commit((s) => T.precheck(s, `${reason}; prechecking a failover to ${to}`));
      const { failures, entries } = await runner.precheck({ epoch: epoch + 1, kind: 'failover', from, to, reason, forced: false });
      if (runner.aborted()) return;
      if (failures.length > 0) {
        await runner.hold(`${reason}; failover to ${to} blocked by prechecks: ${failures.join('; ')} ('switchyard failover --to ${to} --force' overrides)`, 'SWY_FAILOVER_PRECHECK_FAILED');
        return;
      }
      await runner.begin({ kind: 'failover', from, to, reason, forced: false }, entries);
    });
  }

  let lastOverride: string | null = null;
  /**
   * This instance's verdicts, overridden by a quorum of fresh observers that sees the active down
   * and a target healthy: the active is marked down and that target up, whatever this instance's
   * own probes say of either. The leader is one observer; its view of the target (its own path
   * to it may be the broken one) must not outvote the quorum any more than its view of the active.
   */
  function verdicts(active: string): ClusterHealth[] {
    const own = deps.health.clusters();
    if (!deps.quorum) return own;
    for (const target of options.clusters) {
      if (target === active) continue;
      const q = deps.quorum(active, target);
      if (!q.allowed) continue;
      const mine = own.find((h) => h.name === active);
      const theirs = own.find((h) => h.name === target);
      if (mine?.healthy === false && theirs?.healthy === true) { lastOverride = null; return own; }
      const why = `a quorum sees ${active} down and ${target} healthy (${q.reason}); this instance's probes see ${active} ${verdictText(mine)}, ${target} ${verdictText(theirs)}`;
      if (why !== lastOverride) log.warn({ active, target, quorum: q.reason }, why);
      lastOverride = why;
      return own.map((h) => {
        if (h.name === active && h.healthy !== false) return { ...h, healthy: false, probes: [{ name: 'quorum', ok: false, latencyMs: null, error: why, checkedAt: null }] };
        if (h.name === target && h.healthy !== true) return { ...h, healthy: true, probes: [{ name: 'quorum', ok: true, latencyMs: null, error: null, checkedAt: null }] };
        return h;
      });
    }
    lastOverride = null;
    return own;
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
    const decision = decide({ state, health: verdicts(state.active), clusters: options.clusters, automatic: options.automatic, cooldownMs: options.cooldownMs, now: now() });
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
    if (runner.halted()) return;
    if (deps.leadership && deps.leadership.term() === null) return;
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

  return { evaluate, resumed: () => { lastResume = now(); }, resumeNow: () => { lastResume = 0; } };
}

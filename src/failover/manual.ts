// The manual-move API: `failover --to`, `failback` and their dry run. It checks the request
// against the state (unknown cluster, already active, a move running), resumes or clears a step
// hold, runs the prechecks (refusing unless forced) and begins the move through the runner.
//
// Several instances: a follower refuses both (and the dry run) with SWY_STORE_NOT_LEADER naming
// the leader (HTTP 503: this instance cannot serve the request now; the leader's can).
import type { StepConfig } from '../config/index.ts';
import { SwitchyardError } from '../errors.ts';
import type { HealthSource } from '../health/types.ts';
import type { Logger } from '../log.ts';
import { isMovingState, isStickyHold, transitions as T, type FailoverStateName, type Routing, type Transition, type TransitionKind } from '../routing/index.ts';
import { describeStep } from './describe-step.ts';
import { resumePoint } from './journal.ts';
import type { PrecheckNotes, RunOutcome, TransitionRunner } from './runner.ts';
import type { FailoverLeadership } from './controller.ts';

export interface MoveRequest { to?: string; reason: string; force: boolean }
export interface MoveResult { message: string; transition: Transition | null; state: FailoverStateName; active: string }

/** What a move would do, from every precheck, without moving anything (`failover --dry-run`). */
export interface MovePlan {
  dryRun: true;
  kind: TransitionKind;
  from: string;
  to: string;
  forced: boolean;
  /** True when the move would start: every precheck passed, or --force was given. */
  wouldProceed: boolean;
  /** Resuming a held transition instead of starting a new one. */
  resumes: boolean;
  targetHealthy: boolean | null;
  steps: Array<{ name: string; type: StepConfig['type']; does: string; precheck: 'passed' | 'failed' | 'none'; detail: string | null }>;
  failures: string[];
  message: string;
}

export interface ManualMoves {
  failover(req: MoveRequest & { to: string }): Promise<MoveResult>;
  failback(req: MoveRequest): Promise<MoveResult>;
  plan(req: MoveRequest & { kind: 'manual' | 'failback' }): Promise<MovePlan>;
}

export interface ManualOptions { clusters: readonly string[]; /** instance.name, for the follower's refusal. */ instance?: string }
export interface ManualDeps { routing: Routing; health: HealthSource; runner: TransitionRunner; logger: Logger; now: () => number; leadership?: FailoverLeadership }

export function createManualMoves(options: ManualOptions, deps: ManualDeps): ManualMoves {
  const { routing, runner, now } = deps;
  const names = options.clusters;
  const preferred = names[0];
  const log = deps.logger;
  const steps = runner.steps;

  const unknown = (to: string | undefined) => new SwitchyardError('SWY_FAILOVER_UNKNOWN_CLUSTER', `no cluster named ${JSON.stringify(to)} (clusters: ${names.join(', ')})`);
  const activeHealthy = (active: string) => deps.health.clusters().find((h) => h.name === active)?.healthy === true;

  /** A follower moves nothing: the leader does. */
  function mustLead(): void {
    if (!deps.leadership || deps.leadership.term() !== null) return;
    const leader = deps.leadership.leader();
    const me = options.instance ?? 'this instance';
    throw new SwitchyardError('SWY_STORE_NOT_LEADER', leader && leader.name !== options.instance
      ? `${me} does not lead: ${leader.name} leads (term ${leader.term}); send the request to ${leader.name}'s admin API`
      : `${me} does not lead and no leader is known now (is etcd reachable?); nothing moved`, { leader: leader?.name ?? null, term: leader?.term ?? null });
  }

  function result(message: string): MoveResult {
    const s = routing.state();
    return { message, transition: s.transition, state: s.state, active: s.active };
  }

  function finish(outcome: RunOutcome): MoveResult {
    const s = routing.state();
    if (outcome === 'held') throw new SwitchyardError('SWY_FAILOVER_HELD', `held: ${s.reason}`);
    if (outcome === 'shutdown') throw new SwitchyardError('SWY_FAILOVER_SHUTDOWN', 'switchyard is shutting down; the transition resumes from the journal at the next start');
    if (outcome === 'not-leader') throw new SwitchyardError('SWY_STORE_NOT_LEADER', 'this instance stopped leading during the move; the new leader resumes it from the journal');
    const t = s.transition!;
    return result(`${t.kind} ${t.from}→${t.to} completed (epoch ${t.epoch}); ${s.active} is active`);
  }

  async function move(kind: 'manual' | 'failback', req: MoveRequest & { to: string }): Promise<MoveResult> {
    if (!names.includes(req.to)) throw unknown(req.to);
    mustLead();
    return runner.exclusive(async () => {
      const s = routing.state();
      if (isMovingState(s.state)) throw new SwitchyardError('SWY_FAILOVER_IN_PROGRESS', `a transition is running: ${s.reason}`);
      const reason = req.reason || (kind === 'failback' ? `failback to ${req.to} requested` : `move to ${req.to} requested`);
      if (isStickyHold(s) && s.transition!.to === req.to) {
        log.warn({ to: req.to, forced: req.force }, `resuming held ${s.transition!.kind} ${s.transition!.from}→${s.transition!.to} on request: ${reason}`);
        await runner.commit((x) => T.resume(x, { reason, forced: req.force }));
        return finish(await runner.execute());
      }
      if (req.to === s.active) {
        if (isStickyHold(s) && req.force) {
          await runner.commit((x) => T.clearHold(x, { preferred, reason, at: new Date(now()).toISOString() }));
          return result(`hold cleared; ${req.to} stays active`);
        }
        throw new SwitchyardError('SWY_FAILOVER_ALREADY_ACTIVE', `${req.to} is already active${isStickyHold(s) ? ` (held: ${s.reason}; --force clears the hold)` : ''}`);
      }
      const transitionKind: TransitionKind = kind === 'failback' ? 'failback' : activeHealthy(s.active) ? 'switchover' : 'failover';
      const t = { epoch: s.epoch + 1, kind: transitionKind, from: s.active, to: req.to, reason, forced: req.force };
      const { failures, entries } = await runner.precheck(t);
      if (failures.length > 0 && !req.force) {
        throw new SwitchyardError('SWY_FAILOVER_PRECHECK_FAILED', `${transitionKind} ${s.active}→${req.to} blocked by prechecks: ${failures.join('; ')}; nothing moved (--force overrides)`, { failures });
      }
      if (failures.length > 0) log.warn({ failures }, `prechecks failed but --force was given: ${failures.join('; ')}`);
      return finish(await runner.begin({ kind: transitionKind, from: s.active, to: req.to, reason, forced: req.force }, entries));
    });
  }

  /** The dry run of move(): the same refusals and prechecks, nothing committed. */
  async function plan(req: MoveRequest & { kind: 'manual' | 'failback' }): Promise<MovePlan> {
    const to = req.kind === 'failback' ? preferred : req.to;
    if (to === undefined || !names.includes(to)) throw unknown(to);
    mustLead();
    const s = routing.state();
    if (runner.busy() || isMovingState(s.state)) throw new SwitchyardError('SWY_FAILOVER_IN_PROGRESS', `a transition is running: ${s.reason}`);
    const resumes = isStickyHold(s) && s.transition!.to === to;
    if (!resumes && to === s.active) throw new SwitchyardError('SWY_FAILOVER_ALREADY_ACTIVE', `${to} is already active${isStickyHold(s) ? ` (held: ${s.reason}; --force clears the hold)` : ''}`);
    const kind: TransitionKind = resumes ? s.transition!.kind : req.kind === 'failback' ? 'failback' : activeHealthy(s.active) ? 'switchover' : 'failover';
    const from = resumes ? s.transition!.from : s.active;
    const notes: PrecheckNotes = new Map();
    const { failures } = await runner.precheck({ epoch: s.epoch + 1, kind, from, to, reason: req.reason || 'dry run', forced: req.force }, notes);
    const finished = resumes ? resumePoint(s.transition!, steps.map((x) => x.config.name)).finished : new Set<number>();
    const wouldProceed = failures.length === 0 || req.force;
    return {
      dryRun: true, kind, from, to, forced: req.force, wouldProceed, resumes,
      targetHealthy: deps.health.clusters().find((h) => h.name === to)?.healthy ?? null,
      steps: steps.map((step, i) => {
        const note = notes.get(step.config.name);
        return {
          name: step.config.name, type: step.config.type,
          does: finished.has(i) ? `already done in epoch ${s.transition!.epoch}; not run again` : describeStep(step.config, from, to),
          precheck: note === undefined ? 'none' : note.ok ? 'passed' : 'failed',
          detail: note?.detail ?? null,
        };
      }),
      failures,
      message: `${resumes ? `resume the held ${kind}` : kind} ${from}→${to}: ${wouldProceed ? (failures.length > 0 ? 'would proceed despite failed prechecks (--force)' : 'every precheck passed; would proceed') : 'blocked by prechecks; nothing would move (--force overrides)'}`,
    };
  }

  return {
    failover: (req) => move('manual', req),
    failback: (req) => move('failback', { ...req, to: preferred }),
    plan,
  };
}

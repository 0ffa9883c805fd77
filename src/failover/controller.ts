// The failover controller: the composition of the evaluator (policy in, decision out:
// evaluator.ts), the transition runner (steps, journal, retries, resume, abort on stop:
// runner.ts) and the manual-move API (failover, failback, plan: manual.ts). It builds the
// steps (switch-traffic from its switch dependency, steps/switch-traffic.ts), registers the
// metrics, owns the timer and the health subscription, and re-fences an old primary left
// unfenced. Each step is journaled in the routing state before and after it runs, so a
// controller that crashes mid-transition resumes from the journal and never re-runs a step
// that finished.
import type { Registry } from 'prom-client';
import type { Config, StepConfig } from '../config/index.ts';
import { SwitchyardError, describeError } from '../errors.ts';
import type { HealthSource } from '../health/types.ts';
import type { Logger } from '../log.ts';
import { FAILOVER_STATES, isStickyHold, moveInProgress, type Routing, type UnfencedSource } from '../routing/index.ts';
import { createEvaluator } from './evaluator.ts';
import { createManualMoves, type MovePlan, type MoveRequest, type MoveResult } from './manual.ts';
import { createFailoverMetrics } from './metrics.ts';
import type { Notifier } from './notifier.ts';
import { createRefencer } from './refence.ts';
import { runWithTimeout } from './run-step.ts';
import { createTransitionRunner } from './runner.ts';
import type { MovePrecheck, Step } from './step.ts';
import { createSteps } from './steps/index.ts';

export type { MovePlan, MoveRequest, MoveResult } from './manual.ts';

export interface FailoverController {
  /** Resumes an unfinished transition from the journal, then evaluates on every health change and once a second. */
  start(): void;
  /** Stops evaluating; a running step is aborted without being journaled as failed, so the next start resumes it. */
  stop(): Promise<void>;
  failover(req: MoveRequest & { to: string }): Promise<MoveResult>;
  failback(req: MoveRequest): Promise<MoveResult>;
  /** Runs every precheck of the move failover/failback would make and says what it would do; moves nothing. */
  plan(req: MoveRequest & { kind: 'manual' | 'failback' }): Promise<MovePlan>;
  /** One evaluation of the policy (the timer and health changes call it; tests may too). */
  evaluate(): Promise<void>;
  /** Resolves when no transition is running. */
  idle(): Promise<void>;
}

/** The leader election as the controller sees it (src/failover/leader.ts provides it). */
export interface FailoverLeadership {
  /** The term while this instance may act (judged on its clock at each call), else null. */
  term(): number | null;
  /** The current leader as the store last said, or null when none is known. */
  leader(): { name: string; term: number } | null;
  /** Told when this instance starts or stops leading; returns an unsubscribe function. */
  onChange(fn: (change: { leading: boolean; term: number | null; reason?: string }) => void): () => void;
}

export interface FailoverDeps {
  routing: Routing;
  health: HealthSource;
  /** Builds the step for every type but switch-traffic, which createSteps builds from `routing` and `awaitTraffic`. */
  createStep: (config: Exclude<StepConfig, { type: 'switch-traffic' }>) => Step;
  /** failover.prechecks (parity), run beside the steps' prechecks. */
  prechecks?: readonly MovePrecheck[];
  logger: Logger;
  registry: Registry;
  /** The notify list: told about holds, completed moves, an old primary left unfenced and fenced later; never blocks. */
  notify?: Notifier;
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /**
   * Resolves once every answering thread serves routing generation `generation` or later (DNS or
   * proxy worker threads). When given, switch-traffic commits the new active, awaits this, and only
   * then journals itself done; without it the move and its journal entry are one write.
   */
  awaitTraffic?: (generation: number, signal: AbortSignal) => Promise<void>;
  /**
   * Several instances: the leader election. Absent: this instance always acts (one instance).
   * It gates the evaluator (nothing while not leading), the runner (the term is checked before
   * every write; losing it aborts the running step, not journaled failed) and the manual API
   * (a follower refuses with SWY_STORE_NOT_LEADER naming the leader).
   */
  leadership?: FailoverLeadership;
  /**
   * Several instances: whether a quorum of fresh observations agrees that `active` is down and
   * `target` healthy (quorum.ts decides it). Absent: this instance's own health verdicts decide.
   * It gates automatic failovers only.
   */
  quorum?: (active: string, target: string) => { allowed: boolean; reason: string };
  /**
   * Several instances: re-reads the committed state from the shared store and adopts it. Called
   * when this instance becomes leader (before it resumes anything) and after a write refused as a
   * conflict or whose outcome is unknown.
   */
  reload?: () => Promise<void>;
}

const EVALUATE_EVERY_MS = 1000;

const abortableSleep = (ms: number, signal: AbortSignal) => new Promise<void>((resolve, reject) => {
  if (signal.aborted) { reject(signal.reason); return; }
  const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(); }, ms);
  const onAbort = () => { clearTimeout(t); reject(signal.reason); };
  signal.addEventListener('abort', onAbort, { once: true });
});

/** refenceIntervalMs: how often an unfenced old primary is tried again (the composition root passes health.interval). */
export function createFailoverController(options: { config: Pick<Config, 'clusters' | 'failover'>; refenceIntervalMs?: number; instance?: string }, deps: FailoverDeps): FailoverController {
  const { clusters, failover } = options.config;
  const names = clusters.map((c) => c.name);
  const log = deps.logger.child({ module: 'failover' });
  const now = deps.now ?? Date.now;
  const { routing } = deps;

  const steps = createSteps(failover.steps, { createStep: deps.createStep, switch: { routing, awaitTraffic: deps.awaitTraffic } });
  const metrics = createFailoverMetrics(deps.registry);
  const runner = createTransitionRunner({ clusters, preferred: names[0], steps }, {
    routing, health: deps.health, prechecks: deps.prechecks, notify: deps.notify, logger: log, metrics, now, sleep: deps.sleep ?? abortableSleep,
    leadership: deps.leadership, reload: deps.reload, quorum: deps.quorum,
  });

  const showState = () => {
    const s = routing.state();
    runner.observe(s);
    for (const name of FAILOVER_STATES) metrics.state.labels(name).set(s.state === name ? 1 : 0);
    metrics.held.set(s.state === 'held' ? 1 : 0);
    metrics.unfenced.set(s.unfenced ? 1 : 0);
  };
  showState();
  const unsubscribeRouting = routing.subscribe(showState);

  // An old primary that did not answer when it was to be fenced is tried again while it is not active.
  const fenceStep = steps.find((s) => s.config.type === 'postgres-fence');
  const refencer = fenceStep && createRefencer({
    routing, logger: log, notify: deps.notify, now, intervalMs: options.refenceIntervalMs ?? EVALUATE_EVERY_MS,
    run: (u: UnfencedSource) => {
      const t = routing.state().transition;
      const base = { epoch: u.epoch, kind: t?.kind ?? 'failover' as const, from: u.cluster, to: routing.state().active, reason: `re-fencing old primary ${u.cluster}`, forced: false };
      return runWithTimeout((signal) => fenceStep.run(runner.context(base, fenceStep, 1, signal)), fenceStep.config.timeout, runner.signal, fenceStep.config.name);
    },
  });

  const evaluator = createEvaluator({ clusters: names, automatic: failover.automatic, cooldownMs: failover.cooldown }, {
    routing, health: deps.health, runner, logger: log, now, leadership: deps.leadership, quorum: deps.quorum,
    beforeEach: () => { if (refencer && routing.state().unfenced) refencer.tryRefence(); },
  });
  const manual = createManualMoves({ clusters: names, instance: options.instance }, { routing, health: deps.health, runner, logger: log, now, leadership: deps.leadership });
  const leads = () => !deps.leadership || deps.leadership.term() !== null;

  /** This instance just became leader: start from what is stored, then resume an unfinished move from its journal at once. */
  async function tookOver(term: number | null): Promise<void> {
    try {
      await deps.reload?.();
    } catch (err) {
      log.warn({ err: describeError(err), term }, `leading (term ${term}) but could not re-read the routing state: ${describeError(err)}; not acting until it can`);
      return;
    }
    const s = routing.state();
    if (moveInProgress(s)) log.warn({ term, epoch: s.transition.epoch, journal: s.transition.journal.length }, `leading (term ${term}): resuming the unfinished ${s.transition.kind} ${s.transition.from}→${s.transition.to} from the journal`);
    evaluator.resumeNow();
    await evaluator.evaluate();
  }

  let timer: NodeJS.Timeout | undefined;
  let unsubscribeHealth: (() => void) | undefined;
  let unsubscribeLeadership: (() => void) | undefined;

  return {
    start() {
      const s = routing.state();
      unsubscribeLeadership = deps.leadership?.onChange((c) => {
        if (!c.leading) {
          runner.demote(new SwitchyardError('SWY_STORE_NOT_LEADER', `this instance stopped leading (term ${c.term ?? 'none'}): the running step is abandoned, not failed; the next leader resumes it from the journal`));
          return;
        }
        void tookOver(c.term);
      });
      if (!leads()) {
        log.info({ leader: deps.leadership?.leader()?.name ?? null }, 'not leading: the failover controller waits (it evaluates, runs and resumes nothing until this instance leads)');
      } else if (moveInProgress(s)) {
        evaluator.resumed();
        log.warn({ epoch: s.transition.epoch, journal: s.transition.journal.length }, `resuming unfinished ${s.transition.kind} ${s.transition.from}→${s.transition.to} from the journal`);
        runner.exclusive(runner.execute).catch((err) => log.error({ err }, `resuming the transition failed: ${describeError(err)}`));
      } else if (isStickyHold(s)) {
        log.error({ reason: s.reason }, `starting held: ${s.reason}`);
      }
      unsubscribeHealth = deps.health.subscribe(() => { void evaluator.evaluate(); });
      timer = setInterval(() => { void evaluator.evaluate(); }, EVALUATE_EVERY_MS);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      unsubscribeHealth?.();
      unsubscribeLeadership?.();
      runner.halt(new SwitchyardError('SWY_FAILOVER_SHUTDOWN', 'switchyard is shutting down'));
      await runner.idle();
      await refencer?.idle();
      unsubscribeRouting();
      await Promise.all(steps.map((s) => s.close?.().catch(() => {})));
    },
    failover: manual.failover,
    failback: manual.failback,
    plan: manual.plan,
    evaluate: evaluator.evaluate,
    idle: runner.idle,
  };
}

// The failover controller: applies the policy's decisions and runs transitions. Each step is
// journaled in the routing state before and after it runs, so a controller that crashes
// mid-transition resumes from the journal and never re-runs a step that finished.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ClusterConfig, Config, StepConfig } from '../config/index.ts';
import { SwitchyardError, describeError, isSwitchyardError } from '../errors.ts';
import type { HealthSource } from '../health/types.ts';
import type { Logger } from '../log.ts';
import type { FailoverStateName, JournalEntry, Routing, RoutingState, Transition, TransitionKind } from '../routing/index.ts';
import { decide, isStickyHold, restingState } from './policy.ts';
import { resumePoint } from './journal.ts';
import { runWithTimeout } from './run-step.ts';
import type { Step, StepContext } from './step.ts';

export interface MoveRequest { to?: string; reason: string; force: boolean }
export interface MoveResult { message: string; transition: Transition | null; state: FailoverStateName; active: string }

export interface FailoverController {
  /** Resumes an unfinished transition from the journal, then evaluates on every health change and once a second. */
  start(): void;
  /** Stops evaluating; a running step is aborted without being journaled as failed, so the next start resumes it. */
  stop(): Promise<void>;
  failover(req: MoveRequest & { to: string }): Promise<MoveResult>;
  failback(req: MoveRequest): Promise<MoveResult>;
  /** One evaluation of the policy (the timer and health changes call it; tests may too). */
  evaluate(): Promise<void>;
  /** Resolves when no transition is running. */
  idle(): Promise<void>;
}

export interface FailoverDeps {
  routing: Routing;
  health: HealthSource;
  /** Builds the step for every type but switch-traffic, which is built in. */
  createStep: (config: Exclude<StepConfig, { type: 'switch-traffic' }>) => Step;
  logger: Logger;
  registry: Registry;
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /**
   * Resolves once every answering thread serves routing generation `generation` or later (DNS or
   * proxy worker threads). When given, switch-traffic commits the new active, awaits this, and only
   * then journals itself done; without it the move and its journal entry are one write.
   */
  awaitTraffic?: (generation: number, signal: AbortSignal) => Promise<void>;
}

const PRECHECK_RETRY_MS = 5000;
const EVALUATE_EVERY_MS = 1000;
const STATES: FailoverStateName[] = ['steady', 'suspect', 'precheck', 'failing-over', 'failed-over', 'held', 'failing-back'];

const abortableSleep = (ms: number, signal: AbortSignal) => new Promise<void>((resolve, reject) => {
  if (signal.aborted) { reject(signal.reason); return; }
  const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(); }, ms);
  const onAbort = () => { clearTimeout(t); reject(signal.reason); };
  signal.addEventListener('abort', onAbort, { once: true });
});

export function createFailoverController(options: { config: Pick<Config, 'clusters' | 'failover'> }, deps: FailoverDeps): FailoverController {
  const { clusters, failover } = options.config;
  const names = clusters.map((c) => c.name);
  const preferred = names[0];
  const log = deps.logger.child({ module: 'failover' });
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? abortableSleep;
  const { routing } = deps;
  const cluster = (name: string): ClusterConfig => clusters.find((c) => c.name === name)!;

  const switchTraffic = (config: StepConfig): Step => ({ config, run: async () => ({ detail: 'traffic switched' }) });
  const steps: Step[] = failover.steps.map((s) => (s.type === 'switch-traffic' ? switchTraffic(s) : deps.createStep(s)));

  const stateGauge = new Gauge({ name: 'switchyard_failover_state', help: '1 for the current failover state, 0 for the others', labelNames: ['state'], registers: [deps.registry] });
  const heldGauge = new Gauge({ name: 'switchyard_failover_held', help: '1 while failover is held (a precheck or a step failed, or a person must decide): alert on it', registers: [deps.registry] });
  const transitions = new Counter({ name: 'switchyard_failover_transitions_total', help: 'Transitions by kind and outcome', labelNames: ['kind', 'outcome'], registers: [deps.registry] });
  const stepSeconds = new Histogram({ name: 'switchyard_failover_step_duration_seconds', help: 'Duration of each step attempt', labelNames: ['step', 'result'], buckets: [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300], registers: [deps.registry] });
  const precheckFailures = new Counter({ name: 'switchyard_failover_precheck_failures_total', help: 'Prechecks that failed and blocked a move', labelNames: ['check'], registers: [deps.registry] });
  const lastTransitionTime = new Gauge({ name: 'switchyard_failover_last_transition_timestamp_seconds', help: 'When the last transition finished (completed or held)', registers: [deps.registry] });
  const showState = () => {
    const s = routing.state();
    for (const name of STATES) stateGauge.labels(name).set(s.state === name ? 1 : 0);
    heldGauge.set(s.state === 'held' ? 1 : 0);
  };
  showState();
  const unsubscribeRouting = routing.subscribe(showState);

  let running: Promise<unknown> | null = null;
  let stopping = false;
  const shutdown = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let unsubscribeHealth: (() => void) | undefined;
  let lastAutoPrecheck = 0;
  let evaluating = false;
  let evaluateAgain = false;

  const commit = (change: (s: RoutingState) => Omit<RoutingState, 'generation' | 'updatedAt' | 'version'>) => routing.commit(change);
  const journal = (entry: Omit<JournalEntry, 'at'>) => commit((s) => ({ ...s, transition: { ...s.transition!, journal: [...s.transition!.journal, { ...entry, at: new Date(now()).toISOString() }] } }));

  function context(t: Pick<Transition, 'epoch' | 'kind' | 'from' | 'to' | 'reason' | 'forced'>, step: Step, attempt: number, signal: AbortSignal): StepContext {
    return {
      epoch: t.epoch, kind: t.kind, source: cluster(t.from), target: cluster(t.to), reason: t.reason, forced: t.forced,
      idempotencyKey: `switchyard:${t.epoch}:${step.config.name}`, attempt, signal, logger: log.child({ step: step.config.name, epoch: t.epoch }),
    };
  }

  /** Target health and every step's precheck, before anything moves. Returns the failures. */
  async function precheck(t: Pick<Transition, 'epoch' | 'kind' | 'from' | 'to' | 'reason' | 'forced'>): Promise<string[]> {
    const failures: string[] = [];
    const target = deps.health.clusters().find((h) => h.name === t.to);
    if (target?.healthy !== true) {
      failures.push(`target ${t.to} is not healthy (${target?.healthy === false ? 'down' : 'no verdict yet'})`);
      precheckFailures.labels('target-health').inc();
    }
    for (const step of steps) {
      if (!step.precheck) continue;
      try {
        await runWithTimeout((signal) => step.precheck!(context(t, step, 1, signal)), step.config.timeout, shutdown.signal, step.config.name);
      } catch (err) {
        failures.push(`${step.config.name}: ${describeError(err)}`);
        precheckFailures.labels(step.config.name).inc();
      }
    }
    return failures;
  }

  async function hold(reason: string, code: string): Promise<void> {
    log.error({ code, reason }, `failover held: ${reason}`);
    const midTransition = (s: RoutingState) => s.transition !== null && s.transition.finishedAt === undefined;
    await commit((s) => ({ ...s, state: 'held', reason, transition: midTransition(s) ? { ...s.transition!, outcome: 'held' } : s.transition }));
    const s = routing.state();
    if (midTransition(s)) {
      transitions.labels(s.transition!.kind, 'held').inc();
      lastTransitionTime.set(now() / 1000);
    }
  }

  /** Runs (or resumes) the transition in the routing state, step by step, journaling each. */
  async function execute(): Promise<'completed' | 'held' | 'shutdown'> {
    const first = routing.state().transition!;
    const point = resumePoint(first, steps.map((s) => s.config.name));
    if (point.problem) {
      await hold(`${point.problem}; refusing to guess which steps ran (${first.kind} ${first.from}→${first.to}, epoch ${first.epoch})`, 'SWY_FAILOVER_JOURNAL_MISMATCH');
      return 'held';
    }
    for (let index = 0; index < steps.length; index++) {
      if (point.finished.has(index)) continue;
      const step = steps[index];
      const name = step.config.name;
      let attempt = point.attempts.get(index) ?? 0;
      const maxAttempts = Math.max(attempt + 1, step.config.retries + 1);
      for (;;) {
        attempt++;
        const t = routing.state().transition!;
        await journal({ step: name, index, phase: 'started', attempt });
        const started = now();
        try {
          const outcome = await runWithTimeout((signal) => step.run(context(t, step, attempt, signal)), step.config.timeout, shutdown.signal, name);
          stepSeconds.labels(name, 'done').observe((now() - started) / 1000);
          const detail = outcome?.detail;
          if (step.config.type === 'switch-traffic' && deps.awaitTraffic !== undefined) {
            // Committed first (once: a resumed step finds it done), journaled done only when every
            // answering thread has acknowledged a generation that carries it.
            const switched = routing.state().active === t.to ? routing.state() : await commit((s) => ({ ...s, active: t.to }));
            await runWithTimeout((signal) => deps.awaitTraffic!(switched.generation, signal), step.config.timeout, shutdown.signal, name);
            await journal({ step: name, index, phase: 'done', attempt, detail: `traffic now goes to ${t.to}` });
            log.warn({ from: t.from, to: t.to, epoch: t.epoch, generation: switched.generation }, `traffic switched ${t.from}→${t.to} (epoch ${t.epoch}), acknowledged by every answering thread`);
          } else if (step.config.type === 'switch-traffic') {
            // The move itself and its journal entry are one write: traffic switches exactly once.
            await commit((s) => ({ ...s, active: t.to, transition: { ...s.transition!, journal: [...s.transition!.journal, { step: name, index, phase: 'done', attempt, at: new Date(now()).toISOString(), detail: `traffic now goes to ${t.to}` }] } }));
            log.warn({ from: t.from, to: t.to, epoch: t.epoch }, `traffic switched ${t.from}→${t.to} (epoch ${t.epoch})`);
          } else {
            await journal({ step: name, index, phase: 'done', attempt, ...(detail ? { detail } : {}) });
            log.info({ detail, attempt, ms: now() - started }, `step ${name} done${detail ? `: ${detail}` : ''}`);
          }
          break;
        } catch (err) {
          if (stopping) {
            log.warn({ step: name }, `step ${name} interrupted by shutdown; it resumes from the journal at the next start`);
            return 'shutdown';
          }
          stepSeconds.labels(name, 'failed').observe((now() - started) / 1000);
          const error = describeError(err);
          await journal({ step: name, index, phase: 'failed', attempt, error });
          const retryable = !(isSwitchyardError(err) && err.details?.retryable === false);
          if (retryable && attempt < maxAttempts) {
            const wait = Math.min(step.config.backoff * 2 ** (attempt - 1), 60_000);
            log.warn({ step: name, attempt, error, retryInMs: wait }, `step ${name} failed (attempt ${attempt}/${maxAttempts}): ${error}; retrying`);
            try { await sleep(wait, shutdown.signal); } catch { return 'shutdown'; }
            continue;
          }
          if (step.config.onFailure === 'continue') {
            await journal({ step: name, index, phase: 'skipped', attempt, detail: `failed after ${attempt} attempt(s); onFailure: continue` });
            log.error({ step: name, error }, `step ${name} failed after ${attempt} attempt(s): ${error}; continuing (onFailure: continue)`);
            break;
          }
          await hold(`step ${name} failed after ${attempt} attempt(s): ${error} (onFailure: hold); fix it, then 'switchyard failover --to ${t.to}' resumes from this step`, 'SWY_FAILOVER_STEP_FAILED');
          return 'held';
        }
      }
    }
    const t = routing.state().transition!;
    await commit((s) => ({ ...s, state: restingState(s, preferred), reason: `${t.kind} ${t.from}→${t.to} completed (epoch ${t.epoch}): ${t.reason}`, transition: { ...s.transition!, finishedAt: new Date(now()).toISOString(), outcome: 'completed' } }));
    transitions.labels(t.kind, 'completed').inc();
    lastTransitionTime.set(now() / 1000);
    const ms = now() - Date.parse(t.startedAt);
    log.warn({ kind: t.kind, from: t.from, to: t.to, epoch: t.epoch, ms }, `${t.kind} ${t.from}→${t.to} completed in ${ms} ms (epoch ${t.epoch}): ${t.reason}`);
    return 'completed';
  }

  async function begin(kind: TransitionKind, from: string, to: string, reason: string, forced: boolean): Promise<'completed' | 'held' | 'shutdown'> {
    await commit((s) => {
      const epoch = s.epoch + 1;
      return { ...s, epoch, state: kind === 'failback' ? 'failing-back' : 'failing-over', reason: `${kind} ${from}→${to}: ${reason}`, transition: { epoch, kind, from, to, reason, forced, startedAt: new Date(now()).toISOString(), journal: [] } };
    });
    log.warn({ kind, from, to, epoch: routing.state().epoch, forced }, `${kind} ${from}→${to} started${forced ? ' (forced)' : ''}: ${reason}`);
    return execute();
  }

  /** Runs fn as the one transition in flight; concurrent callers get SWY_FAILOVER_IN_PROGRESS. */
  function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (running) return Promise.reject(new SwitchyardError('SWY_FAILOVER_IN_PROGRESS', `a transition is running (${routing.state().reason})`, { httpStatus: 409 }));
    if (stopping) return Promise.reject(new SwitchyardError('SWY_FAILOVER_SHUTDOWN', 'switchyard is shutting down', { httpStatus: 503 }));
    const p = fn();
    running = p;
    const clear = () => { if (running === p) running = null; };
    p.then(clear, clear);
    return p;
  }

  /** An unfinished transition with nobody running it (a state write failed mid-way): resume it. */
  const interrupted = (s: RoutingState): s is RoutingState & { transition: Transition } => (s.state === 'failing-over' || s.state === 'failing-back') && s.transition !== null && s.transition.finishedAt === undefined;
  let lastResume = 0;

  async function evaluateOnce(): Promise<void> {
    const state = routing.state();
    if (interrupted(state)) {
      if (now() - lastResume < PRECHECK_RETRY_MS) return;
      lastResume = now();
      log.warn({ epoch: state.transition!.epoch }, `resuming the interrupted ${state.transition!.kind} ${state.transition!.from}→${state.transition!.to} from the journal`);
      await exclusive(execute);
      return;
    }
    const decision = decide({ state, health: deps.health.clusters(), clusters: names, automatic: failover.automatic, cooldownMs: failover.cooldown, now: now() });
    if (decision.action === 'none') return;
    if (decision.action === 'set-state') {
      if (decision.state === 'held') log.error({ reason: decision.reason }, `failover held: ${decision.reason}`);
      else log.info({ state: decision.state }, `state ${state.state} → ${decision.state}: ${decision.reason}`);
      await commit((s) => ({ ...s, state: decision.state, reason: decision.reason }));
      return;
    }
    if (state.state === 'held' && now() - lastAutoPrecheck < PRECHECK_RETRY_MS) return;
    lastAutoPrecheck = now();
    const { from, to, reason } = decision;
    await exclusive(async () => {
      await commit((s) => ({ ...s, state: 'precheck', reason: `${reason}; prechecking a failover to ${to}` }));
      const failures = await precheck({ epoch: state.epoch + 1, kind: 'failover', from, to, reason, forced: false });
      if (stopping) return;
      if (failures.length > 0) {
        await hold(`${reason}; failover to ${to} blocked by prechecks: ${failures.join('; ')} ('switchyard failover --to ${to} --force' overrides)`, 'SWY_FAILOVER_PRECHECK_FAILED');
        return;
      }
      await begin('failover', from, to, reason, false);
    });
  }

  async function evaluate(): Promise<void> {
    if (stopping) return;
    if (evaluating || running) { evaluateAgain = true; return; }
    evaluating = true;
    try {
      do {
        evaluateAgain = false;
        await evaluateOnce();
      } while (evaluateAgain && !stopping && !running);
    } catch (err) {
      if (!isSwitchyardError(err, 'SWY_FAILOVER_IN_PROGRESS')) log.error({ err }, `failover evaluation failed: ${describeError(err)}`);
    } finally {
      evaluating = false;
    }
  }

  function result(message: string): MoveResult {
    const s = routing.state();
    return { message, transition: s.transition, state: s.state, active: s.active };
  }

  async function move(kind: 'manual' | 'failback', req: MoveRequest & { to: string }): Promise<MoveResult> {
    if (!names.includes(req.to)) throw new SwitchyardError('SWY_FAILOVER_UNKNOWN_CLUSTER', `no cluster named ${JSON.stringify(req.to)} (clusters: ${names.join(', ')})`, { httpStatus: 404 });
    return exclusive(async () => {
      const s = routing.state();
      if (s.state === 'failing-over' || s.state === 'failing-back') throw new SwitchyardError('SWY_FAILOVER_IN_PROGRESS', `a transition is running: ${s.reason}`, { httpStatus: 409 });
      const reason = req.reason || (kind === 'failback' ? `failback to ${req.to} requested` : `move to ${req.to} requested`);
      if (isStickyHold(s) && s.transition!.to === req.to) {
        log.warn({ to: req.to, forced: req.force }, `resuming held ${s.transition!.kind} ${s.transition!.from}→${s.transition!.to} on request: ${reason}`);
        await commit((x) => ({ ...x, state: x.transition!.kind === 'failback' ? 'failing-back' : 'failing-over', reason: `resuming ${x.transition!.kind}: ${reason}`, transition: { ...x.transition!, forced: x.transition!.forced || req.force, outcome: undefined } }));
        return finish(await execute());
      }
      if (req.to === s.active) {
        if (isStickyHold(s) && req.force) {
          await commit((x) => ({ ...x, state: restingState(x, preferred), reason: `hold cleared by request: ${reason}`, transition: { ...x.transition!, finishedAt: new Date(now()).toISOString() } }));
          return result(`hold cleared; ${req.to} stays active`);
        }
        throw new SwitchyardError('SWY_FAILOVER_ALREADY_ACTIVE', `${req.to} is already active${isStickyHold(s) ? ` (held: ${s.reason}; --force clears the hold)` : ''}`, { httpStatus: 409 });
      }
      const activeHealthy = deps.health.clusters().find((h) => h.name === s.active)?.healthy === true;
      const transitionKind: TransitionKind = kind === 'failback' ? 'failback' : activeHealthy ? 'switchover' : 'failover';
      const t = { epoch: s.epoch + 1, kind: transitionKind, from: s.active, to: req.to, reason, forced: req.force };
      const failures = await precheck(t);
      if (failures.length > 0 && !req.force) {
        throw new SwitchyardError('SWY_FAILOVER_PRECHECK_FAILED', `${transitionKind} ${s.active}→${req.to} blocked by prechecks: ${failures.join('; ')}; nothing moved (--force overrides)`, { httpStatus: 409, failures });
      }
      if (failures.length > 0) log.warn({ failures }, `prechecks failed but --force was given: ${failures.join('; ')}`);
      return finish(await begin(transitionKind, s.active, req.to, reason, req.force));
    });
  }

  function finish(outcome: 'completed' | 'held' | 'shutdown'): MoveResult {
    const s = routing.state();
    if (outcome === 'held') throw new SwitchyardError('SWY_FAILOVER_HELD', `held: ${s.reason}`, { httpStatus: 409 });
    if (outcome === 'shutdown') throw new SwitchyardError('SWY_FAILOVER_SHUTDOWN', 'switchyard is shutting down; the transition resumes from the journal at the next start', { httpStatus: 503 });
    const t = s.transition!;
    return result(`${t.kind} ${t.from}→${t.to} completed (epoch ${t.epoch}); ${s.active} is active`);
  }

  return {
    start() {
      const s = routing.state();
      if (interrupted(s)) {
        lastResume = now();
        log.warn({ epoch: s.transition.epoch, journal: s.transition.journal.length }, `resuming unfinished ${s.transition.kind} ${s.transition.from}→${s.transition.to} from the journal`);
        exclusive(execute).catch((err) => log.error({ err }, `resuming the transition failed: ${describeError(err)}`));
      } else if (isStickyHold(s)) {
        log.error({ reason: s.reason }, `starting held: ${s.reason}`);
      }
      unsubscribeHealth = deps.health.subscribe(() => { void evaluate(); });
      timer = setInterval(() => { void evaluate(); }, EVALUATE_EVERY_MS);
      timer.unref();
    },
    async stop() {
      stopping = true;
      if (timer) clearInterval(timer);
      unsubscribeHealth?.();
      shutdown.abort(new SwitchyardError('SWY_FAILOVER_SHUTDOWN', 'switchyard is shutting down'));
      await running?.catch(() => {});
      unsubscribeRouting();
      await Promise.all(steps.map((s) => s.close?.().catch(() => {})));
    },
    failover: (req) => move('manual', req),
    failback: (req) => move('failback', { ...req, to: preferred }),
    evaluate,
    idle: async () => { while (running) await running.catch(() => {}); },
  };
}

// The failover controller: applies the policy's decisions and runs transitions. Each step is
// journaled in the routing state before and after it runs, so a controller that crashes
// mid-transition resumes from the journal and never re-runs a step that finished.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ClusterConfig, Config, StepConfig } from '../config/index.ts';
import { SwitchyardError, describeError, isSwitchyardError } from '../errors.ts';
import type { HealthSource } from '../health/types.ts';
import type { Logger } from '../log.ts';
import type { FailoverStateName, JournalEntry, Routing, RoutingState, Transition, TransitionKind, UnfencedSource } from '../routing/index.ts';
import { decide } from './policy.ts';
import { FAILOVER_STATES, isStickyHold, restingState } from '../routing/index.ts';
import { resumePoint } from './journal.ts';
import { runWithTimeout } from './run-step.ts';
import { describeStep } from './describe-step.ts';
import type { MovePrecheck, Step, StepContext, StepOutcome } from './step.ts';
import type { Notifier } from './notifier.ts';
import { createRefencer } from './refence.ts';

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

export interface FailoverDeps {
  routing: Routing;
  health: HealthSource;
  /** Builds the step for every type but switch-traffic, which is built in. */
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
}

const PRECHECK_RETRY_MS = 5000;
/** Steps that only tell someone: their failing precheck is reported but never blocks a move. */
const isNotification = (c: StepConfig): boolean => (c.type === 'webhook' || c.type === 'exec') && c.onFailure === 'continue';
const EVALUATE_EVERY_MS = 1000;

const abortableSleep = (ms: number, signal: AbortSignal) => new Promise<void>((resolve, reject) => {
  if (signal.aborted) { reject(signal.reason); return; }
  const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(); }, ms);
  const onAbort = () => { clearTimeout(t); reject(signal.reason); };
  signal.addEventListener('abort', onAbort, { once: true });
});

/** refenceIntervalMs: how often an unfenced old primary is tried again (the composition root passes health.interval). */
export function createFailoverController(options: { config: Pick<Config, 'clusters' | 'failover'>; refenceIntervalMs?: number }, deps: FailoverDeps): FailoverController {
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
  const precheckWarnings = new Counter({ name: 'switchyard_failover_precheck_warnings_total', help: 'Prechecks of notification steps (webhook, or exec with onFailure: continue) that failed; reported, never blocking', labelNames: ['check'], registers: [deps.registry] });
  const lastTransitionTime = new Gauge({ name: 'switchyard_failover_last_transition_timestamp_seconds', help: 'When the last transition finished (completed or held)', registers: [deps.registry] });
  let heldNotified: string | null = routing.state().state === 'held' ? 'restarted while held' : null;
  const unfencedGauge = new Gauge({ name: 'switchyard_failover_old_primary_unfenced', help: '1 while the source of the last move could not be fenced (it did not answer) and may take writes: alert on it', registers: [deps.registry] });
  const showState = () => {
    const s = routing.state();
    if (s.state !== 'held' && s.state !== 'precheck') heldNotified = null;
    for (const name of FAILOVER_STATES) stateGauge.labels(name).set(s.state === name ? 1 : 0);
    heldGauge.set(s.state === 'held' ? 1 : 0);
    unfencedGauge.set(s.unfenced ? 1 : 0);
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

  // A hold's code lives in the state only while it is held: every commit that leaves held drops it.
  const commit = (change: (s: RoutingState) => Omit<RoutingState, 'generation' | 'updatedAt' | 'version'>) => routing.commit((s) => {
    const next = change(s);
    if (next.state === 'held') return next;
    const { holdCode: _dropped, ...rest } = next;
    return rest;
  });
  const journal = (entry: Omit<JournalEntry, 'at'>) => commit((s) => ({ ...s, transition: { ...s.transition!, journal: [...s.transition!.journal, { ...entry, at: new Date(now()).toISOString() }] } }));

  function context(t: Pick<Transition, 'epoch' | 'kind' | 'from' | 'to' | 'reason' | 'forced'> & { journal?: JournalEntry[] }, step: Step, attempt: number, signal: AbortSignal): StepContext {
    return {
      epoch: t.epoch, kind: t.kind, source: cluster(t.from), target: cluster(t.to), reason: t.reason, forced: t.forced,
      idempotencyKey: `switchyard:${t.epoch}:${step.config.name}`, attempt, signal, logger: log.child({ step: step.config.name, epoch: t.epoch }),
      journal: t.journal ?? [],
    };
  }

  /** A running step's context, with the process its journal last recorded and a way to record the next. */
  function runContext(t: Transition, step: Step, index: number, attempt: number, signal: AbortSignal): StepContext {
    const previousProcess = t.journal.findLast((e) => e.index === index && e.process !== undefined)?.process;
    return {
      ...context(t, step, attempt, signal),
      ...(previousProcess ? { previousProcess } : {}),
      recordProcess: (process) => journal({ step: step.config.name, index, phase: 'running', attempt, process, detail: `pid ${process.pid} started` }).then(() => {}),
    };
  }

  // An old primary that did not answer when it was to be fenced is tried again while it is not active.
  const fenceStep = steps.find((s) => s.config.type === 'postgres-fence');
  const refencer = fenceStep && createRefencer({
    routing, logger: log, notify: deps.notify, now, intervalMs: options.refenceIntervalMs ?? EVALUATE_EVERY_MS,
    run: (u: UnfencedSource) => {
      const t = routing.state().transition;
      const base = { epoch: u.epoch, kind: t?.kind ?? 'failover', from: u.cluster, to: routing.state().active, reason: `re-fencing old primary ${u.cluster}`, forced: false };
      return runWithTimeout((signal) => fenceStep.run(context(base, fenceStep, 1, signal)), fenceStep.config.timeout, shutdown.signal, fenceStep.config.name);
    },
  });

  /** Target health and every step's precheck, before anything moves. Returns the failures and what the prechecks found, for the journal. */
  /** `notes` (the dry run) collects each step's result. */
  async function precheck(t: Pick<Transition, 'epoch' | 'kind' | 'from' | 'to' | 'reason' | 'forced'>, notes?: Map<string, { ok: boolean; detail: string | null }>): Promise<{ failures: string[]; entries: JournalEntry[] }> {
    const failures: string[] = [];
    const entries: JournalEntry[] = [];
    const target = deps.health.clusters().find((h) => h.name === t.to);
    if (target?.healthy !== true) {
      failures.push(`target ${t.to} is not healthy (${target?.healthy === false ? 'down' : 'no verdict yet'})`);
      precheckFailures.labels('target-health').inc();
    }
    for (const step of steps) {
      if (!step.precheck) continue;
      try {
        const found = await runWithTimeout((signal) => step.precheck!(context(t, step, 1, signal)), step.config.timeout, shutdown.signal, step.config.name);
        notes?.set(step.config.name, { ok: true, detail: found?.detail ?? null });
        if (found?.facts) entries.push({ step: step.config.name, index: steps.indexOf(step), phase: 'precheck', attempt: 0, at: new Date(now()).toISOString(), ...(found.detail ? { detail: found.detail } : {}), facts: found.facts });
      } catch (err) {
        notes?.set(step.config.name, { ok: false, detail: describeError(err) });
        if (isNotification(step.config)) {
          // A notification must never block a failover: reported, and the move goes on.
          precheckWarnings.labels(step.config.name).inc();
          log.error({ step: step.config.name, err: describeError(err), to: t.to }, `precheck of notification step ${step.config.name} failed (not blocking: ${step.config.type} with onFailure: continue): ${describeError(err)}`);
          continue;
        }
        failures.push(`${step.config.name}: ${describeError(err)}`);
        precheckFailures.labels(step.config.name).inc();
      }
    }
    for (const p of deps.prechecks ?? []) {
      try {
        await runWithTimeout((signal) => p.check({ kind: t.kind, from: t.from, to: t.to }, signal), p.timeout, shutdown.signal, p.name);
      } catch (err) {
        failures.push(`${p.name}: ${describeError(err)}`);
        precheckFailures.labels(p.name).inc();
      }
    }
    return { failures, entries };
  }

  /** Tells the notify list about a hold once per code, until the state leaves held (a precheck retry does not count). */
  const tell = (reason: string, code: string) => {
    const s = routing.state();
    if (s.state !== 'held' || heldNotified === code) return;
    heldNotified = code;
    deps.notify?.notify({ kind: 'hold', severity: 'critical', code, summary: reason, cluster: s.active, epoch: s.epoch });
  };

  async function hold(reason: string, code: string): Promise<void> {
    log.error({ code, reason }, `failover held: ${reason}`);
    const midTransition = (s: RoutingState) => s.transition !== null && s.transition.finishedAt === undefined;
    await commit((s) => ({ ...s, state: 'held', holdCode: code, reason, transition: midTransition(s) ? { ...s.transition!, outcome: 'held' } : s.transition }));
    const s = routing.state();
    if (midTransition(s)) {
      transitions.labels(s.transition!.kind, 'held').inc();
      lastTransitionTime.set(now() / 1000);
    }
    tell(reason, code);
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
          const outcome: StepOutcome | void = await runWithTimeout((signal) => step.run(runContext(t, step, index, attempt, signal)), step.config.timeout, shutdown.signal, name);
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
            const entry = { step: name, index, phase: 'done' as const, attempt, at: new Date(now()).toISOString(), ...(detail ? { detail } : {}), ...(outcome?.facts ? { facts: outcome.facts } : {}) };
            const unfenced: UnfencedSource | undefined = outcome?.sourceFence === 'unreachable' ? { cluster: t.from, epoch: t.epoch, since: entry.at, detail: detail ?? 'source database unreachable; not fenced' } : undefined;
            // The journal entry and the unfenced record are one write: a crash cannot lose the fact.
            await commit((s) => ({ ...s, ...(unfenced ? { unfenced } : {}), transition: { ...s.transition!, journal: [...s.transition!.journal, entry] } }));
            log.info({ detail, attempt, ms: now() - started }, `step ${name} done${detail ? `: ${detail}` : ''}`);
            if (unfenced) {
              log.error({ cluster: t.from, epoch: t.epoch, detail: unfenced.detail }, `old primary ${t.from} is NOT fenced (${unfenced.detail}); it is fenced the moment it answers`);
              deps.notify?.notify({ kind: 'unfenced', severity: 'critical', summary: `old primary ${t.from} could not be fenced (${unfenced.detail}) and may take writes; switchyard fences it the moment it answers`, cluster: t.from, epoch: t.epoch, details: { detail: unfenced.detail } });
            }
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
    deps.notify?.notify({ kind: 'completed', severity: 'warning', summary: `${t.kind} ${t.from}→${t.to} completed in ${ms} ms (epoch ${t.epoch}): ${t.reason}`, cluster: t.to, epoch: t.epoch, details: { kind: t.kind, from: t.from, to: t.to, forced: t.forced, ms } });
    return 'completed';
  }

  async function begin(kind: TransitionKind, from: string, to: string, reason: string, forced: boolean, found: JournalEntry[] = []): Promise<'completed' | 'held' | 'shutdown'> {
    await commit((s) => {
      const epoch = s.epoch + 1;
      return { ...s, epoch, state: kind === 'failback' ? 'failing-back' : 'failing-over', reason: `${kind} ${from}→${to}: ${reason}`, transition: { epoch, kind, from, to, reason, forced, startedAt: new Date(now()).toISOString(), journal: found } };
    });
    log.warn({ kind, from, to, epoch: routing.state().epoch, forced }, `${kind} ${from}→${to} started${forced ? ' (forced)' : ''}: ${reason}`);
    return execute();
  }

  /** Runs fn as the one transition in flight; concurrent callers get SWY_FAILOVER_IN_PROGRESS. */
  function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (running) return Promise.reject(new SwitchyardError('SWY_FAILOVER_IN_PROGRESS', `a transition is running (${routing.state().reason})`));
    if (stopping) return Promise.reject(new SwitchyardError('SWY_FAILOVER_SHUTDOWN', 'switchyard is shutting down'));
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
    if (refencer && routing.state().unfenced) refencer.tryRefence();
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
      await commit((s) => ({ ...s, state: decision.state, reason: decision.reason, ...(decision.state === 'held' ? { holdCode: 'SWY_FAILOVER_HELD' } : {}) }));
      tell(decision.reason, 'SWY_FAILOVER_HELD');
      return;
    }
    if (state.state === 'held' && now() - lastAutoPrecheck < PRECHECK_RETRY_MS) return;
    lastAutoPrecheck = now();
    const { from, to, reason } = decision;
    await exclusive(async () => {
      await commit((s) => ({ ...s, state: 'precheck', reason: `${reason}; prechecking a failover to ${to}` }));
      const { failures, entries } = await precheck({ epoch: state.epoch + 1, kind: 'failover', from, to, reason, forced: false });
      if (stopping) return;
      if (failures.length > 0) {
        await hold(`${reason}; failover to ${to} blocked by prechecks: ${failures.join('; ')} ('switchyard failover --to ${to} --force' overrides)`, 'SWY_FAILOVER_PRECHECK_FAILED');
        return;
      }
      await begin('failover', from, to, reason, false, entries);
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
    if (!names.includes(req.to)) throw new SwitchyardError('SWY_FAILOVER_UNKNOWN_CLUSTER', `no cluster named ${JSON.stringify(req.to)} (clusters: ${names.join(', ')})`);
    return exclusive(async () => {
      const s = routing.state();
      if (s.state === 'failing-over' || s.state === 'failing-back') throw new SwitchyardError('SWY_FAILOVER_IN_PROGRESS', `a transition is running: ${s.reason}`);
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
        throw new SwitchyardError('SWY_FAILOVER_ALREADY_ACTIVE', `${req.to} is already active${isStickyHold(s) ? ` (held: ${s.reason}; --force clears the hold)` : ''}`);
      }
      const activeHealthy = deps.health.clusters().find((h) => h.name === s.active)?.healthy === true;
      const transitionKind: TransitionKind = kind === 'failback' ? 'failback' : activeHealthy ? 'switchover' : 'failover';
      const t = { epoch: s.epoch + 1, kind: transitionKind, from: s.active, to: req.to, reason, forced: req.force };
      const { failures, entries } = await precheck(t);
      if (failures.length > 0 && !req.force) {
        throw new SwitchyardError('SWY_FAILOVER_PRECHECK_FAILED', `${transitionKind} ${s.active}→${req.to} blocked by prechecks: ${failures.join('; ')}; nothing moved (--force overrides)`, { failures });
      }
      if (failures.length > 0) log.warn({ failures }, `prechecks failed but --force was given: ${failures.join('; ')}`);
      return finish(await begin(transitionKind, s.active, req.to, reason, req.force, entries));
    });
  }

  /** The dry run of move(): the same refusals and prechecks, nothing committed. */
  async function plan(req: MoveRequest & { kind: 'manual' | 'failback' }): Promise<MovePlan> {
    const to = req.kind === 'failback' ? preferred : req.to;
    if (to === undefined || !names.includes(to)) throw new SwitchyardError('SWY_FAILOVER_UNKNOWN_CLUSTER', `no cluster named ${JSON.stringify(to)} (clusters: ${names.join(', ')})`);
    const s = routing.state();
    if (running || s.state === 'failing-over' || s.state === 'failing-back') throw new SwitchyardError('SWY_FAILOVER_IN_PROGRESS', `a transition is running: ${s.reason}`);
    const resumes = isStickyHold(s) && s.transition!.to === to;
    if (!resumes && to === s.active) throw new SwitchyardError('SWY_FAILOVER_ALREADY_ACTIVE', `${to} is already active${isStickyHold(s) ? ` (held: ${s.reason}; --force clears the hold)` : ''}`);
    const activeHealthy = deps.health.clusters().find((h) => h.name === s.active)?.healthy === true;
    const kind: TransitionKind = resumes ? s.transition!.kind : req.kind === 'failback' ? 'failback' : activeHealthy ? 'switchover' : 'failover';
    const from = resumes ? s.transition!.from : s.active;
    const notes = new Map<string, { ok: boolean; detail: string | null }>();
    const { failures } = await precheck({ epoch: s.epoch + 1, kind, from, to, reason: req.reason || 'dry run', forced: req.force }, notes);
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

  function finish(outcome: 'completed' | 'held' | 'shutdown'): MoveResult {
    const s = routing.state();
    if (outcome === 'held') throw new SwitchyardError('SWY_FAILOVER_HELD', `held: ${s.reason}`);
    if (outcome === 'shutdown') throw new SwitchyardError('SWY_FAILOVER_SHUTDOWN', 'switchyard is shutting down; the transition resumes from the journal at the next start');
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
      await refencer?.idle();
      unsubscribeRouting();
      await Promise.all(steps.map((s) => s.close?.().catch(() => {})));
    },
    failover: (req) => move('manual', req),
    failback: (req) => move('failback', { ...req, to: preferred }),
    plan,
    evaluate,
    idle: async () => { while (running) await running.catch(() => {}); },
  };
}

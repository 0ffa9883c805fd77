// The transition runner: runs (or resumes) the move recorded in the routing state, step by step,
// journaling each attempt before and after it runs, with retries, holds and shutdown. It also
// runs the prechecks of a move and is the one place a move's state is written (`commit`): every
// write is a named transition of src/routing. One move at a time (`exclusive`).
//
// Several instances (`deps.leadership`): a move runs only under the term it started with. Every
// write (`commit`, so also each step attempt's `started` entry) first checks the term on this
// instance's clock; a lost or changed term, or a write the store refused with
// SWY_STORE_NOT_LEADER, `demote`s the runner: the running step is aborted exactly as on shutdown
// (not journaled failed), so the next leader resumes it from the journal. Each run starts with a
// fresh abort signal under the term in force when it starts. A write refused as a conflict, or whose outcome is unknown,
// re-reads the stored state (`deps.reload`) so the next resume starts from what was committed.
// Journal entries and transitions carry the term of the leader that wrote them.
import type { ClusterConfig, StepConfig } from '../config/index.ts';
import { SwitchyardError, describeError, isSwitchyardError } from '../errors.ts';
import type { HealthSource } from '../health/types.ts';
import type { Logger } from '../log.ts';
import { transitions as T, type JournalEntry, type Routing, type RoutingState, type StateBody, type Transition, type UnfencedSource } from '../routing/index.ts';
import { resumePoint } from './journal.ts';
import type { FailoverMetrics } from './metrics.ts';
import type { Notifier } from './notifier.ts';
import { runWithTimeout } from './run-step.ts';
import type { MovePrecheck, Step, StepContext, StepOutcome } from './step.ts';
import type { FailoverLeadership } from './controller.ts';

/** `not-leader`: the run stopped because this instance lost (or changed) its term; the next leader resumes it. */
export type RunOutcome = 'completed' | 'held' | 'shutdown' | 'not-leader';
/** A move as the prechecks and the steps see it (the epoch it has or will have). */
export type MoveFacts = Pick<Transition, 'epoch' | 'kind' | 'from' | 'to' | 'reason' | 'forced'>;
export type PrecheckNotes = Map<string, { ok: boolean; detail: string | null }>;

export interface RunnerOptions { clusters: readonly ClusterConfig[]; preferred: string; steps: readonly Step[] }

export interface RunnerDeps {
  routing: Routing;
  health: HealthSource;
  prechecks?: readonly MovePrecheck[];
  notify?: Notifier;
  /** The failover module's logger. */
  logger: Logger;
  metrics: FailoverMetrics;
  now: () => number;
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Several instances: the leader election; absent, this instance always acts. */
  leadership?: FailoverLeadership;
  /** Several instances: re-reads the committed state from the store and adopts it (after a conflict or a write of unknown outcome). */
  reload?: () => Promise<void>;
  /** Several instances: the quorum of observers; an automatic failover's target counts as healthy when it allows the move. */
  quorum?: (active: string, target: string) => { allowed: boolean; reason: string };
}

export interface TransitionRunner {
  readonly steps: readonly Step[];
  /** Aborted by `halt` and by `demote`: every step, precheck and retry wait runs under it. */
  readonly signal: AbortSignal;
  halted(): boolean;
  /** The current run was stopped: shutdown, or leadership lost. */
  aborted(): boolean;
  /** Leadership was lost: aborts whatever runs (not journaled as failed). The next run starts afresh under the term then in force. */
  demote(reason: SwitchyardError): void;
  /** True while a move (or a precheck that may begin one) runs. */
  busy(): boolean;
  /** Runs fn as the one move in flight; concurrent callers get SWY_FAILOVER_IN_PROGRESS, after `halt` SWY_FAILOVER_SHUTDOWN. */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  /** Target health, every step's precheck and the move prechecks; `notes` (the dry run) collects each step's result. */
  precheck(t: MoveFacts, notes?: PrecheckNotes): Promise<{ failures: string[]; entries: JournalEntry[] }>;
  /** Commits the start of a move (`found`: what the prechecks journaled) and runs it. */
  begin(move: Omit<MoveFacts, 'epoch'>, found?: JournalEntry[]): Promise<RunOutcome>;
  /** Runs (or resumes) the unfinished transition in the routing state. */
  execute(): Promise<RunOutcome>;
  /** Holds with `code`, marks a move in progress held, counts it and tells the notify list. */
  hold(reason: string, code: string): Promise<void>;
  /** The one write path of the controller: a named transition applied to the current state. */
  commit(change: (s: RoutingState) => StateBody): Promise<RoutingState>;
  /** Tells the notify list about a hold once per code, until the state leaves held. */
  tell(reason: string, code: string): void;
  /** Fed every committed state: a state that left held re-arms `tell`. */
  observe(s: RoutingState): void;
  /** A step's context for a move that is not running (prechecks, re-fencing). */
  context(t: MoveFacts & { journal?: JournalEntry[] }, step: Step, attempt: number, signal: AbortSignal): StepContext;
  /** Stops: aborts whatever runs (not journaled as failed) and refuses new moves. */
  halt(reason: SwitchyardError): void;
  /** Resolves when no move is running. */
  idle(): Promise<void>;
}

/** Steps that only tell someone: their failing precheck is reported but never blocks a move. */
const isNotification = (c: StepConfig): boolean => (c.type === 'webhook' || c.type === 'exec') && c.onFailure === 'continue';

export function createTransitionRunner(options: RunnerOptions, deps: RunnerDeps): TransitionRunner {
  const { routing, metrics: m, now } = deps;
  const { steps, preferred } = options;
  const log = deps.logger;
  const cluster = (name: string): ClusterConfig => options.clusters.find((c) => c.name === name)!;
  const stop = new AbortController();
  let lead = new AbortController();
  let runSignal = AbortSignal.any([stop.signal, lead.signal]);
  const at = () => new Date(now()).toISOString();
  let running: Promise<unknown> | null = null;
  /** The term the running move started under (several instances); null while none runs or with one instance. */
  let runTerm: number | null = null;
  let heldNotified: string | null = routing.state().state === 'held' ? 'restarted while held' : null;

  function demote(reason: SwitchyardError): void {
    if (running === null || lead.signal.aborted) return;
    log.warn({ code: reason.code, term: runTerm }, `stopping: ${reason.message}`);
    lead.abort(reason);
  }

  /** The term this instance may act under now (undefined: one instance); a lost or changed term demotes and throws SWY_STORE_NOT_LEADER. */
  function checkTerm(): number | undefined {
    if (!deps.leadership) return undefined;
    const term = deps.leadership.term();
    if (term !== null && (runTerm === null || term === runTerm) && !(running !== null && lead.signal.aborted)) return term;
    const leader = deps.leadership.leader();
    const err = new SwitchyardError('SWY_STORE_NOT_LEADER', term === null || runTerm === null || term === runTerm
      ? `this instance no longer leads${leader ? ` (${leader.name} leads, term ${leader.term})` : ''}; it writes nothing more`
      : `the term changed during the run (${runTerm} → ${term}); the move resumes from the journal under the new term`, { term: runTerm, leader: leader?.name ?? null });
    if (running !== null) demote(err);
    throw err;
  }
  /** The term of this instance's entries, when it has one. */
  const stamp = (): { term?: number } => (runTerm === null ? {} : { term: runTerm });

  /** The one write path: the term first, then the store; a refused guard stops the run at once. */
  async function commit(change: (s: RoutingState) => StateBody): Promise<RoutingState> {
    checkTerm();
    try {
      return await routing.commit(change);
    } catch (err) {
      if (isSwitchyardError(err, 'SWY_STORE_NOT_LEADER')) demote(err);
      else if (deps.reload && (isSwitchyardError(err, 'SWY_STATE_CONFLICT') || isSwitchyardError(err, 'SWY_STATE_WRITE') || isSwitchyardError(err, 'SWY_STORE_OUTCOME_UNKNOWN'))) {
        await deps.reload().catch((e) => log.warn({ err: describeError(e) }, `could not re-read the routing state after a failed write: ${describeError(e)}`));
      }
      throw err;
    }
  }
  const journal = (entry: Omit<JournalEntry, 'at'>) => commit((s) => T.journal(s, { ...entry, at: at(), ...stamp() }));

  function context(t: MoveFacts & { journal?: JournalEntry[] }, step: Step, attempt: number, signal: AbortSignal): StepContext {
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

  async function precheck(t: MoveFacts, notes?: PrecheckNotes): Promise<{ failures: string[]; entries: JournalEntry[] }> {
    const failures: string[] = [];
    const entries: JournalEntry[] = [];
    const target = deps.health.clusters().find((h) => h.name === t.to);
    // An automatic failover goes on the quorum's word about the target too: this instance's own
    // path to it may be the broken one (manual moves keep this instance's view; --force overrides).
    const byQuorum = t.kind === 'failover' && target?.healthy !== true && deps.quorum?.(t.from, t.to).allowed === true;
    if (target?.healthy !== true && !byQuorum) {
      failures.push(`target ${t.to} is not healthy (${target?.healthy === false ? 'down' : 'no verdict yet'})`);
      m.precheckFailures.labels('target-health').inc();
    }
    for (const step of steps) {
      if (!step.precheck) continue;
      try {
        const found = await runWithTimeout((signal) => step.precheck!(context(t, step, 1, signal)), step.config.timeout, runSignal, step.config.name);
        notes?.set(step.config.name, { ok: true, detail: found?.detail ?? null });
        if (found?.facts) entries.push({ step: step.config.name, index: steps.indexOf(step), phase: 'precheck', attempt: 0, at: at(), ...(found.detail ? { detail: found.detail } : {}), facts: found.facts, ...stamp() });
      } catch (err) {
        notes?.set(step.config.name, { ok: false, detail: describeError(err) });
        if (isNotification(step.config)) {
          // A notification must never block a failover: reported, and the move goes on.
          m.precheckWarnings.labels(step.config.name).inc();
          log.error({ step: step.config.name, err: describeError(err), to: t.to }, `precheck of notification step ${step.config.name} failed (not blocking: ${step.config.type} with onFailure: continue): ${describeError(err)}`);
          continue;
        }
        failures.push(`${step.config.name}: ${describeError(err)}`);
        m.precheckFailures.labels(step.config.name).inc();
      }
    }
    for (const p of deps.prechecks ?? []) {
      try {
        await runWithTimeout((signal) => p.check({ kind: t.kind, from: t.from, to: t.to }, signal), p.timeout, runSignal, p.name);
      } catch (err) {
        failures.push(`${p.name}: ${describeError(err)}`);
        m.precheckFailures.labels(p.name).inc();
      }
    }
    return { failures, entries };
  }

  const tell = (reason: string, code: string) => {
    const s = routing.state();
    if (s.state !== 'held' || heldNotified === code) return;
    heldNotified = code;
    deps.notify?.notify({ kind: 'hold', severity: 'critical', code, summary: reason, cluster: s.active, epoch: s.epoch });
  };

  const unfinished = (s: RoutingState) => s.transition !== null && s.transition.finishedAt === undefined;

  async function hold(reason: string, code: string): Promise<void> {
    log.error({ code, reason }, `failover held: ${reason}`);
    await commit((s) => T.hold(s, code, reason));
    const s = routing.state();
    if (unfinished(s)) {
      m.transitions.labels(s.transition!.kind, 'held').inc();
      m.lastTransitionTime.set(now() / 1000);
    }
    tell(reason, code);
  }

  /** A step's attempt finished: journal `done`, with the unfenced source or the traffic switch in the same write. */
  async function done(t: Transition, step: Step, index: number, attempt: number, outcome: StepOutcome | void, started: number): Promise<void> {
    const name = step.config.name;
    const detail = outcome?.detail;
    const entry: JournalEntry = { step: name, index, phase: 'done', attempt, at: at(), ...(detail ? { detail } : {}), ...(outcome?.facts ? { facts: outcome.facts } : {}), ...stamp() };
    if (outcome?.switchTo !== undefined) {
      // The move itself and its journal entry are one write: traffic switches exactly once.
      await commit((s) => T.switchTraffic(s, outcome.switchTo!, entry));
      log.warn({ from: t.from, to: outcome.switchTo, epoch: t.epoch }, `traffic switched ${t.from}→${outcome.switchTo} (epoch ${t.epoch})`);
      return;
    }
    const unfenced: UnfencedSource | undefined = outcome?.sourceFence === 'unreachable' ? { cluster: t.from, epoch: t.epoch, since: entry.at, detail: detail ?? 'source database unreachable; not fenced' } : undefined;
    // The journal entry and the unfenced record are one write: a crash cannot lose the fact.
    await commit((s) => T.journal(s, entry, unfenced ? { unfenced } : {}));
    log.info({ detail, attempt, ms: now() - started }, `step ${name} done${detail ? `: ${detail}` : ''}`);
    if (unfenced) {
      log.error({ cluster: t.from, epoch: t.epoch, detail: unfenced.detail }, `old primary ${t.from} is NOT fenced (${unfenced.detail}); it is fenced the moment it answers`);
      deps.notify?.notify({ kind: 'unfenced', severity: 'critical', summary: `old primary ${t.from} could not be fenced (${unfenced.detail}) and may take writes; switchyard fences it the moment it answers`, cluster: t.from, epoch: t.epoch, details: { detail: unfenced.detail } });
    }
  }

  /** Journals the start of an attempt (a failed write ends the run: the next evaluation resumes it) and returns the move as it was then. */
  async function attempt(step: Step, index: number, n: number): Promise<Transition> {
    // The term is checked by the commit of `started`, before anything of the attempt runs.
    const t = routing.state().transition!;
    await journal({ step: step.config.name, index, phase: 'started', attempt: n });
    return t;
  }

  /** Runs the attempt under its timeout and the halt signal, then journals `done`. Throws what the step (or the write) threw. */
  async function run(t: Transition, step: Step, index: number, n: number): Promise<void> {
    const started = now();
    try {
      const outcome = await runWithTimeout((signal) => step.run(runContext(t, step, index, n, signal)), step.config.timeout, runSignal, step.config.name);
      m.stepSeconds.labels(step.config.name, 'done').observe((now() - started) / 1000);
      await done(t, step, index, n, outcome, started);
    } catch (err) {
      if (!runSignal.aborted) m.stepSeconds.labels(step.config.name, 'failed').observe((now() - started) / 1000);
      throw err;
    }
  }

  async function execute(): Promise<RunOutcome> {
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
      let n = point.attempts.get(index) ?? 0;
      const maxAttempts = Math.max(n + 1, step.config.retries + 1);
      for (;;) {
        n++;
        const t = await attempt(step, index, n);
        try {
          await run(t, step, index, n);
          break;
        } catch (err) {
          // A step's own write refused for not leading (switch-traffic with awaitTraffic commits itself) ends the run like a lost term.
          if (isSwitchyardError(err, 'SWY_STORE_NOT_LEADER')) demote(err);
          if (runSignal.aborted) {
            if (!stop.signal.aborted) {
              log.warn({ step: name, term: runTerm }, `step ${name} interrupted: this instance no longer leads; the next leader resumes it from the journal`);
              return 'not-leader';
            }
            log.warn({ step: name }, `step ${name} interrupted by shutdown; it resumes from the journal at the next start`);
            return 'shutdown';
          }
          const error = describeError(err);
          await journal({ step: name, index, phase: 'failed', attempt: n, error });
          const retryable = !(isSwitchyardError(err) && err.details?.retryable === false);
          if (retryable && n < maxAttempts) {
            const wait = Math.min(step.config.backoff * 2 ** (n - 1), 60_000);
            log.warn({ step: name, attempt: n, error, retryInMs: wait }, `step ${name} failed (attempt ${n}/${maxAttempts}): ${error}; retrying`);
            try { await deps.sleep(wait, runSignal); } catch { return stop.signal.aborted ? 'shutdown' : 'not-leader'; }
            continue;
          }
          if (step.config.onFailure === 'continue') {
            await journal({ step: name, index, phase: 'skipped', attempt: n, detail: `failed after ${n} attempt(s); onFailure: continue` });
            log.error({ step: name, error }, `step ${name} failed after ${n} attempt(s): ${error}; continuing (onFailure: continue)`);
            break;
          }
          await hold(`step ${name} failed after ${n} attempt(s): ${error} (onFailure: hold); fix it, then 'switchyard failover --to ${first.to}' resumes from this step`, 'SWY_FAILOVER_STEP_FAILED');
          return 'held';
        }
      }
    }
    const t = routing.state().transition!;
    await commit((s) => T.finish(s, { preferred, at: at() }));
    m.transitions.labels(t.kind, 'completed').inc();
    m.lastTransitionTime.set(now() / 1000);
    const ms = now() - Date.parse(t.startedAt);
    log.warn({ kind: t.kind, from: t.from, to: t.to, epoch: t.epoch, ms }, `${t.kind} ${t.from}→${t.to} completed in ${ms} ms (epoch ${t.epoch}): ${t.reason}`);
    deps.notify?.notify({ kind: 'completed', severity: 'warning', summary: `${t.kind} ${t.from}→${t.to} completed in ${ms} ms (epoch ${t.epoch}): ${t.reason}`, cluster: t.to, epoch: t.epoch, details: { kind: t.kind, from: t.from, to: t.to, forced: t.forced, ms } });
    return 'completed';
  }

  async function begin(move: Omit<MoveFacts, 'epoch'>, found: JournalEntry[] = []): Promise<RunOutcome> {
    const { kind, from, to, forced } = move;
    await commit((s) => T.begin(s, { ...move, at: at(), journal: found, ...stamp() }));
    log.warn({ kind, from, to, epoch: routing.state().epoch, forced }, `${kind} ${from}→${to} started${forced ? ' (forced)' : ''}: ${move.reason}`);
    return execute();
  }

  function exclusive<R>(fn: () => Promise<R>): Promise<R> {
    if (running) return Promise.reject(new SwitchyardError('SWY_FAILOVER_IN_PROGRESS', `a transition is running (${routing.state().reason})`));
    if (stop.signal.aborted) return Promise.reject(new SwitchyardError('SWY_FAILOVER_SHUTDOWN', 'switchyard is shutting down'));
    let term: number | null = null;
    if (deps.leadership) {
      term = deps.leadership.term();
      if (term === null) {
        const leader = deps.leadership.leader();
        return Promise.reject(new SwitchyardError('SWY_STORE_NOT_LEADER', `this instance does not lead${leader ? `: ${leader.name} leads (term ${leader.term})` : ' and no leader is known'}`, { leader: leader?.name ?? null, term: leader?.term ?? null }));
      }
    }
    runTerm = term;
    lead = new AbortController();
    runSignal = AbortSignal.any([stop.signal, lead.signal]);
    const p = fn();
    running = p;
    const clear = () => { if (running === p) { running = null; runTerm = null; } };
    p.then(clear, clear);
    return p;
  }

  return {
    steps,
    get signal() { return runSignal; },
    halted: () => stop.signal.aborted,
    aborted: () => runSignal.aborted,
    demote,
    busy: () => running !== null,
    exclusive,
    precheck,
    begin,
    execute,
    hold,
    commit,
    tell,
    observe(s) { if (s.state !== 'held' && s.state !== 'precheck') heldNotified = null; },
    context,
    halt(reason) { stop.abort(reason); },
    idle: async () => { while (running) await running.catch(() => {}); },
  };
}

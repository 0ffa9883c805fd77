// exec: runs a command (argv, no shell) as a failover hook. The child gets PATH, LANG and TZ
// from the environment passed in deps (never the rest: it holds the admin token and database
// URLs), the step's `env`, and SWITCHYARD_* variables describing the move; it runs
// in its own process group so that a timeout or an abort kills everything it started (SIGTERM,
// then SIGKILL after a grace), and whatever it left running when it exits is killed too. The
// last 64 KiB of stdout and of stderr go to the log through deps.redact (so does the argv); they are kept out of
// the error (and so out of the journal that /v1/status serves).
//
// A run a crash left behind (its pid journaled, still alive) is waited for, then ended, before the
// step runs again: two runs of one hook never overlap.
//
// The step enforces config.timeout itself as well as honouring ctx.signal, so it is bounded
// even when called outside the controller. Hooks must be idempotent: they receive
// SWITCHYARD_IDEMPOTENCY_KEY, stable across retries and restarts.
import { findExecutable, type StepConfig } from '../../config/index.ts';
import { SwitchyardError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { ownerAlive, ownerOf, type ProcessIdentity } from '../../routing/index.ts';
import type { Step, StepContext, StepOutcome } from '../step.ts';
import { childProcess } from '../../node-builtins.ts';

export type ExecConfig = Extract<StepConfig, { type: 'exec' }>;

export interface ExecDeps {
  /** The environment the child starts from (the composition root passes process.env). */
  env: Record<string, string | undefined>;
  /** Time between SIGTERM and SIGKILL; 5 s by default. */
  killGraceMs?: number;
  /** Applied to the hook's output before it is logged (secrets it may print); identity by default. */
  redact?: (text: string) => string;
}

/** What a hook inherits from switchyard's environment without listing it in `env`. */
export const INHERITED_ENV = ['PATH', 'LANG', 'TZ'] as const;

const OUTPUT_LIMIT = 64 * 1024;
const CLOSE_WAIT_MS = 1000;

/** Keeps the last `limit` bytes written to it. */
class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  total = 0;
  private readonly limit: number;
  constructor(limit: number) { this.limit = limit; }
  push(chunk: Buffer): void {
    this.total += chunk.length;
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size - this.chunks[0].length >= this.limit) this.size -= this.chunks.shift()!.length;
  }
  text(limit = this.limit): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - limit)).toString('utf8');
  }
}

/** The environment of the child: INHERITED_ENV from `base`, then config.env, then the SWITCHYARD_* variables (which win). */
export function execEnvironment(config: ExecConfig, ctx: StepContext, base: Record<string, string | undefined>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of INHERITED_ENV) if (base[k] !== undefined) env[k] = base[k];
  Object.assign(env, config.env, {
    SWITCHYARD_EPOCH: String(ctx.epoch),
    SWITCHYARD_SOURCE: ctx.source.name,
    SWITCHYARD_TARGET: ctx.target.name,
    SWITCHYARD_KIND: ctx.kind,
    SWITCHYARD_REASON: ctx.reason,
    SWITCHYARD_FORCED: ctx.forced ? '1' : '0',
    SWITCHYARD_ATTEMPT: String(ctx.attempt),
    SWITCHYARD_IDEMPOTENCY_KEY: ctx.idempotencyKey,
    SWITCHYARD_STEP: config.name,
  });
  return env;
}


/** One run of a command: what the failover step and the notify list's exec entries share. */
export interface ProcessSpec {
  /** Names the runner in logs and errors: `exec step notify`, `notify exec ops`. */
  what: string;
  command: string[];
  env: Record<string, string>;
  timeout: number;
  killGraceMs: number;
}

export interface ProcessIo {
  signal: AbortSignal;
  logger: Logger;
  /** Called once the child is running, with its pid (its process group id too). */
  onSpawn?: (pid: number) => void;
  /** Applied to the output before it is logged; identity by default. */
  redact?: (text: string) => string;
}

/**
 * Runs the command (argv, no shell) in its own process group and resolves when it exits 0;
 * a timeout or an abort kills the group (SIGTERM, then SIGKILL after the grace), and whatever
 * the command left running in its group when it exits is killed too.
 */
export function runProcess(spec: ProcessSpec, io: ProcessIo): Promise<StepOutcome> {
  io.signal.throwIfAborted();
  const [command, ...args] = spec.command;
  const { what, killGraceMs } = spec;
  const redact = io.redact ?? ((t: string) => t);
  // The argv as logged: a `${VAR}` substituted into it (a URL with a token, a password) is redacted like the output.
  const argv = spec.command.map(redact);
  const started = Date.now();
  const stdout = new Tail(OUTPUT_LIMIT);
  const stderr = new Tail(OUTPUT_LIMIT);
  const child = childProcess().spawn(command, args, { env: spec.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  child.stdout.on('data', (b: Buffer) => stdout.push(b));
  child.stderr.on('data', (b: Buffer) => stderr.push(b));
  if (child.pid !== undefined) io.onSpawn?.(child.pid);

  return new Promise<StepOutcome>((resolveRun, rejectRun) => {
    let stopping: 'timeout' | 'abort' | undefined;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let closeTimer: NodeJS.Timeout | undefined;
    let settled = false;

    const signalGroup = (sig: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try { process.kill(-child.pid, sig); } catch { /* the group is gone */ }
    };
    // Output pipes may be held open by something that left the process group: stop waiting.
    const closeSoon = () => {
      clearTimeout(closeTimer);
      closeTimer = setTimeout(() => { child.stdout.destroy(); child.stderr.destroy(); finish(); }, CLOSE_WAIT_MS);
    };
    const stop = (why: 'timeout' | 'abort') => {
      if (stopping || exit || settled) return;
      stopping = why;
      signalGroup('SIGTERM');
      killTimer = setTimeout(() => { signalGroup('SIGKILL'); closeSoon(); }, killGraceMs);
    };
    const timeout = setTimeout(() => stop('timeout'), spec.timeout);
    const onAbort = () => stop('abort');
    io.signal.addEventListener('abort', onAbort, { once: true });

    const finish = (spawnError?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timeout);
      clearTimeout(killTimer);
      clearTimeout(closeTimer);
      io.signal.removeEventListener('abort', onAbort);
      const code = exit?.code ?? null;
      const sig = exit?.signal ?? null;
      const durationMs = Date.now() - started;
      const log = { command: argv, exitCode: code, signal: sig, durationMs, stdout: redact(stdout.text()), stderr: redact(stderr.text()), stdoutBytes: stdout.total, stderrBytes: stderr.total };
      if (spawnError) {
        const errno = (spawnError as NodeJS.ErrnoException).code;
        io.logger.error({ command: argv, err: redact(spawnError.message) }, `${what} could not start ${command}`);
        rejectRun(new SwitchyardError('SWY_FAILOVER_EXEC_FAILED', errno === 'ENOENT' ? `${what}: command ${command} not found` : `${what}: cannot start ${command}: ${spawnError.message}`, { command, errno }, { cause: spawnError }));
      } else if (stopping === 'abort') {
        io.logger.warn(log, `${what} aborted; killed its process group`);
        rejectRun(io.signal.reason);
      } else if (stopping === 'timeout') {
        io.logger.error(log, `${what} timed out after ${spec.timeout}ms; killed its process group`);
        rejectRun(new SwitchyardError('SWY_FAILOVER_EXEC_FAILED', `${what} timed out after ${spec.timeout}ms and was killed (its output is in the log)`, { command, timedOut: true, timeoutMs: spec.timeout }));
      } else if (code !== 0) {
        io.logger.error(log, `${what} failed: ${command} exited with ${code ?? sig}`);
        rejectRun(new SwitchyardError('SWY_FAILOVER_EXEC_FAILED', `${what}: ${command} exited with ${code === null ? `signal ${sig}` : `code ${code}`} (its stderr is in the log, not in the journal)`, { command, exitCode: code, signal: sig }));
      } else {
        io.logger.info(log, `${what} ran ${command} in ${durationMs}ms`);
        resolveRun({ detail: `exit 0 in ${durationMs}ms` });
      }
    };

    child.once('error', (err) => { if (child.pid === undefined) finish(err); });
    child.once('exit', (code, sig) => {
      exit = { code, signal: sig };
      // The run is over when its first process is: nothing it left running survives it.
      signalGroup('SIGKILL');
      closeSoon();
    });
    child.once('close', () => finish());
  });
}

const POLL_MS = 100;

/**
 * A run of this step that a crash left behind (the journal recorded it, the process is still the
 * same one): wait for it to exit, up to the step's timeout, then end its process group (SIGTERM,
 * SIGKILL after the grace), so that two runs of one hook never overlap.
 */
async function endPrevious(prev: ProcessIdentity, what: string, timeoutMs: number, killGraceMs: number, ctx: StepContext): Promise<void> {
  if (ownerAlive(prev) !== true) return;
  ctx.logger.warn({ pid: prev.pid, timeoutMs }, `${what}: the run started before the restart (pid ${prev.pid}) is still running; waiting up to ${timeoutMs} ms for it before running again`);
  const started = Date.now();
  const waitGone = async (ms: number) => {
    const until = Date.now() + ms;
    while (ownerAlive(prev) === true && Date.now() < until) {
      ctx.signal.throwIfAborted();
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    return ownerAlive(prev) !== true;
  };
  if (await waitGone(timeoutMs)) {
    ctx.logger.info({ pid: prev.pid, waitedMs: Date.now() - started }, `${what}: the earlier run (pid ${prev.pid}) finished; running again`);
    return;
  }
  const signalGroup = (sig: NodeJS.Signals) => { try { process.kill(-prev.pid, sig); } catch { /* gone */ } };
  ctx.logger.error({ pid: prev.pid }, `${what}: the earlier run (pid ${prev.pid}) outlived the step timeout; ending its process group`);
  signalGroup('SIGTERM');
  if (await waitGone(killGraceMs)) return;
  signalGroup('SIGKILL');
  if (!(await waitGone(killGraceMs))) {
    throw new SwitchyardError('SWY_FAILOVER_EXEC_FAILED', `${what}: the earlier run (pid ${prev.pid}) could not be ended; not starting a second one beside it`, { pid: prev.pid });
  }
}

export function createExecStep(config: ExecConfig, deps: ExecDeps): Step {
  const killGraceMs = deps.killGraceMs ?? 5000;
  const command = config.command[0];

  async function precheck(ctx: StepContext): Promise<StepOutcome> {
    const found = await findExecutable(command, execEnvironment(config, ctx, deps.env));
    if (!found) throw new SwitchyardError('SWY_FAILOVER_EXEC_FAILED', `exec step ${config.name}: command ${command} not found or not executable`, { command });
    return { detail: `will run ${found}` };
  }

  async function run(ctx: StepContext): Promise<StepOutcome> {
    if (ctx.previousProcess) await endPrevious(ctx.previousProcess, `exec step ${config.name}`, config.timeout, killGraceMs, ctx);
    let recorded: Promise<void> = Promise.resolve();
    const outcome = await runProcess({ what: `exec step ${config.name}`, command: config.command, env: execEnvironment(config, ctx, deps.env), timeout: config.timeout, killGraceMs }, {
      signal: ctx.signal,
      logger: ctx.logger,
      redact: deps.redact,
      onSpawn: (pid) => {
        if (!ctx.recordProcess) return;
        recorded = ctx.recordProcess(ownerOf(pid)).catch((err) => ctx.logger.error({ pid, err: String(err) }, `exec step ${config.name}: could not journal pid ${pid}; a resume after a crash could not wait for it`));
      },
    });
    await recorded;
    return outcome;
  }

  return { config, precheck, run };
}

// exec: runs a command (argv, no shell) as a failover hook. The child gets PATH, LANG and TZ
// from the environment passed in deps (never the rest: it holds the admin token and database
// URLs), the step's `env`, and SWITCHYARD_* variables describing the move; it runs
// in its own process group so that a timeout or an abort kills everything it started (SIGTERM,
// then SIGKILL after a grace), and whatever it left running when it exits is killed too. The
// last 64 KiB of stdout and of stderr go to the log through deps.redact; they are kept out of
// the error (and so out of the journal that /v1/status serves).
//
// The step enforces config.timeout itself as well as honouring ctx.signal, so it is bounded
// even when called outside the controller. Hooks must be idempotent: they receive
// SWITCHYARD_IDEMPOTENCY_KEY, stable across retries and restarts.
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import type { StepConfig } from '../../config/index.ts';
import { SwitchyardError } from '../../errors.ts';
import type { Step, StepContext, StepOutcome } from '../step.ts';

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

/** The executable `command` resolves to (PATH lookup for a bare name), or undefined when there is none. */
async function findExecutable(command: string, env: Record<string, string>): Promise<string | undefined> {
  const candidates = command.includes('/') ? [isAbsolute(command) ? command : resolve(command)] : (env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, command));
  for (const c of candidates) {
    try {
      await access(c, constants.X_OK);
      return c;
    } catch { /* next */ }
  }
  return undefined;
}

export function createExecStep(config: ExecConfig, deps: ExecDeps): Step {
  const killGraceMs = deps.killGraceMs ?? 5000;
  const redact = deps.redact ?? ((t: string) => t);
  const [command, ...args] = config.command;

  async function precheck(ctx: StepContext): Promise<StepOutcome> {
    const found = await findExecutable(command, execEnvironment(config, ctx, deps.env));
    if (!found) throw new SwitchyardError('SWY_FAILOVER_EXEC_FAILED', `exec step ${config.name}: command ${command} not found or not executable`, { command });
    return { detail: `will run ${found}` };
  }

  async function run(ctx: StepContext): Promise<StepOutcome> {
    ctx.signal.throwIfAborted();
    const started = Date.now();
    const stdout = new Tail(OUTPUT_LIMIT);
    const stderr = new Tail(OUTPUT_LIMIT);
    const child = spawn(command, args, { env: execEnvironment(config, ctx, deps.env), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    child.stdout.on('data', (b: Buffer) => stdout.push(b));
    child.stderr.on('data', (b: Buffer) => stderr.push(b));

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
      const timeout = setTimeout(() => stop('timeout'), config.timeout);
      const onAbort = () => stop('abort');
      ctx.signal.addEventListener('abort', onAbort, { once: true });

      const finish = (spawnError?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timeout);
        clearTimeout(killTimer);
        clearTimeout(closeTimer);
        ctx.signal.removeEventListener('abort', onAbort);
        const code = exit?.code ?? null;
        const sig = exit?.signal ?? null;
        const durationMs = Date.now() - started;
        const log = { command: config.command, exitCode: code, signal: sig, durationMs, stdout: redact(stdout.text()), stderr: redact(stderr.text()), stdoutBytes: stdout.total, stderrBytes: stderr.total };
        if (spawnError) {
          const errno = (spawnError as NodeJS.ErrnoException).code;
          ctx.logger.error({ command: config.command, err: spawnError.message }, `exec step ${config.name} could not start ${command}`);
          rejectRun(new SwitchyardError('SWY_FAILOVER_EXEC_FAILED', errno === 'ENOENT' ? `exec step ${config.name}: command ${command} not found` : `exec step ${config.name}: cannot start ${command}: ${spawnError.message}`, { command, errno }, { cause: spawnError }));
        } else if (stopping === 'abort') {
          ctx.logger.warn(log, `exec step ${config.name} aborted; killed its process group`);
          rejectRun(ctx.signal.reason);
        } else if (stopping === 'timeout') {
          ctx.logger.error(log, `exec step ${config.name} timed out after ${config.timeout}ms; killed its process group`);
          rejectRun(new SwitchyardError('SWY_FAILOVER_EXEC_FAILED', `exec step ${config.name} timed out after ${config.timeout}ms and was killed (its output is in the log)`, { command, timedOut: true, timeoutMs: config.timeout }));
        } else if (code !== 0) {
          ctx.logger.error(log, `exec step ${config.name} failed: ${command} exited with ${code ?? sig}`);
          rejectRun(new SwitchyardError('SWY_FAILOVER_EXEC_FAILED', `exec step ${config.name}: ${command} exited with ${code === null ? `signal ${sig}` : `code ${code}`} (its stderr is in the log, not in the journal)`, { command, exitCode: code, signal: sig }));
        } else {
          ctx.logger.info(log, `exec step ${config.name} ran ${command} in ${durationMs}ms`);
          resolveRun({ detail: `exit 0 in ${durationMs}ms` });
        }
      };

      child.once('error', (err) => { if (child.pid === undefined) finish(err); });
      child.once('exit', (code, sig) => {
        exit = { code, signal: sig };
        // The hook is over when its first process is: nothing it left running survives it.
        signalGroup('SIGKILL');
        closeSoon();
      });
      child.once('close', () => finish());
    });
  }

  return { config, precheck, run };
}

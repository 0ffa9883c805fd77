// Child processes and temp folders of a benchmark. Everything it starts goes through one Cleanup,
// so that every way out (the end, an error, Ctrl-C, SIGTERM) stops the processes (SIGTERM, then
// SIGKILL) and removes the folders. A process can be pinned to a CPU with taskset.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Exit { code: number | null; signal: NodeJS.Signals | null }

export interface Child {
  name: string;
  child: ChildProcess;
  /** The command's own pid (taskset execs it); -1 when it could not be started. */
  pid: number;
  /** stdout and stderr so far (the tail, for error messages). */
  output(): string;
  exited: Promise<Exit>;
  alive(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  /** taskset CPU list: the command runs pinned there. */
  cpu?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** A pipe on child.stdin instead of /dev/null. */
  stdin?: boolean;
}

export interface Cleanup {
  /** Spawns `command args` (no shell) and tracks it. */
  spawn(name: string, command: string, args: string[], opts?: SpawnOptions): Child;
  /** Tracks a process started elsewhere (e.g. by test/support/switchyard-process.ts). */
  track(child: ChildProcess): void;
  /** A new folder under the system temp dir, removed at cleanup (or earlier by removeDir). */
  tempDir(prefix: string): string;
  removeDir(dir: string): void;
  /** Stops every tracked process still running and removes the folders. Safe to call twice. */
  run(): Promise<void>;
  /** Last resort inside process 'exit' (no event loop): SIGKILL and rm. */
  runSync(): void;
  /**
   * Cleans up on process 'exit' (runSync) and on SIGINT or SIGTERM (says so on stderr, runs the
   * cleanup, exits 130 or 143; a second signal exits at once, through runSync).
   */
  onExit(label: string): void;
}

const KEEP_CHARS = 400_000;
const DEFAULT_GRACE_MS = 5000;
const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

const running = (c: ChildProcess) => c.pid !== undefined && c.exitCode === null && c.signalCode === null;

async function stopProcess(c: ChildProcess, graceMs: number): Promise<void> {
  if (!running(c)) return;
  const gone = new Promise<void>((resolve) => c.once('exit', () => resolve()));
  c.kill('SIGTERM');
  const t = setTimeout(() => { if (running(c)) c.kill('SIGKILL'); }, graceMs);
  await gone;
  clearTimeout(t);
}

function start(name: string, command: string, args: string[], opts: SpawnOptions): Child {
  const [file, argv] = opts.cpu === undefined ? [command, args] : ['taskset', ['-c', opts.cpu, command, ...args]];
  const child = spawn(file, argv, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (chunk: Buffer) => { out += chunk.toString(); if (out.length > KEEP_CHARS) out = out.slice(-KEEP_CHARS / 2); };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (err) => { out += `\n${err.message}`; resolve({ code: 127, signal: null }); });
  });
  return {
    name, child, exited,
    pid: child.pid ?? -1,
    output: () => out,
    alive: () => running(child),
    async stop(graceMs = DEFAULT_GRACE_MS) {
      await stopProcess(child, graceMs);
      await exited;
    },
  };
}

export function createCleanup(): Cleanup {
  const children = new Set<ChildProcess>();
  const dirs = new Set<string>();
  const removeDirs = () => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); dirs.clear(); };
  const track = (c: ChildProcess) => { children.add(c); c.once('exit', () => children.delete(c)); };
  const cleanup: Cleanup = {
    spawn(name, command, args, opts = {}) {
      const p = start(name, command, args, opts);
      track(p.child);
      return p;
    },
    track,
    tempDir(prefix) {
      const d = mkdtempSync(join(tmpdir(), prefix));
      dirs.add(d);
      return d;
    },
    removeDir(dir) { rmSync(dir, { recursive: true, force: true }); dirs.delete(dir); },
    async run() {
      await Promise.all([...children].map((c) => stopProcess(c, DEFAULT_GRACE_MS)));
      removeDirs();
    },
    runSync() {
      for (const c of children) if (running(c)) c.kill('SIGKILL');
      removeDirs();
    },
    onExit(label) {
      process.on('exit', () => cleanup.runSync());
      let stopping = false;
      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        process.on(signal, () => {
          if (stopping) process.exit(SIGNAL_EXIT[signal]);
          stopping = true;
          process.stderr.write(`\n${label}: ${signal}: stopping the child processes and removing the temp folders\n`);
          void cleanup.run().finally(() => process.exit(SIGNAL_EXIT[signal]));
        });
      }
    },
  };
  return cleanup;
}

/**
 * Polls `check` every 25 ms until it holds; throws with the process's output when the process
 * exits first or `timeoutMs` passes (`what` names the awaited condition in the message).
 */
export async function waitForChild(p: Child, what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    if (!p.alive()) throw new Error(`${p.name} exited while waiting for ${what}:\n${p.output()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${p.name}: timed out after ${timeoutMs} ms waiting for ${what}:\n${p.output()}`);
}

/** Pins this process (all its threads) to `cpu`, so the harness stays off the server's core. */
export function pinSelf(cpu: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpu, String(process.pid)], { stdio: 'ignore' });
}

// Everything the benchmark starts is registered here, so that every way out (the end, an error,
// Ctrl-C, SIGTERM) stops the child processes and removes the temp folders.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Child {
  name: string;
  child: ChildProcess;
  /** stdout and stderr so far (the tail). */
  output(): string;
  alive(): boolean;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

export interface Cleanup {
  /** A folder under the system temp dir, removed at cleanup (or earlier by removeDir). */
  tempDir(prefix: string): string;
  removeDir(dir: string): void;
  /** Spawns `command args` (no shell) and tracks it. */
  spawn(name: string, command: string, args: string[], opts?: { cwd?: string; env?: NodeJS.ProcessEnv }): Child;
  /** Tracks a process started elsewhere (e.g. by test/support/switchyard-process.ts). */
  trackProcess(child: ChildProcess): void;
  /** Runs at cleanup, after the processes are stopped and before the folders are removed. */
  defer(fn: () => Promise<unknown>): void;
  /** Stops what is still running, runs the deferred work, removes the folders. Safe to call twice. */
  run(): Promise<void>;
  /** Last resort inside process 'exit' (no event loop): SIGKILL and rm. */
  runSync(): void;
}

const running = (c: ChildProcess) => c.pid !== undefined && c.exitCode === null && c.signalCode === null;

export function createCleanup(): Cleanup {
  const children = new Set<ChildProcess>();
  const dirs = new Set<string>();
  let deferred: Array<() => Promise<unknown>> = [];
  const stopChild = async (c: ChildProcess, graceMs = 5000) => {
    if (!running(c)) return;
    const gone = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill('SIGTERM');
    const t = setTimeout(() => { if (running(c)) c.kill('SIGKILL'); }, graceMs);
    await gone;
    clearTimeout(t);
  };
  const removeDirs = () => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); dirs.clear(); };
  const track = (c: ChildProcess) => { children.add(c); c.once('exit', () => children.delete(c)); };
  return {
    tempDir(prefix) {
      const d = mkdtempSync(join(tmpdir(), prefix));
      dirs.add(d);
      return d;
    },
    spawn(name, command, args, opts = {}) {
      const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
      track(child);
      let out = '';
      const keep = (chunk: Buffer) => { out += chunk.toString(); if (out.length > 400_000) out = out.slice(-200_000); };
      child.stdout!.on('data', keep);
      child.stderr!.on('data', keep);
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
        child.once('exit', (code, signal) => resolve({ code, signal }));
        child.once('error', (err) => { out += `\n${err.message}`; resolve({ code: 127, signal: null }); });
      });
      return { name, child, exited, output: () => out, alive: () => running(child), stop: (graceMs) => stopChild(child, graceMs) };
    },
    removeDir(dir) { rmSync(dir, { recursive: true, force: true }); dirs.delete(dir); },
    trackProcess: track,
    defer(fn) { deferred.push(fn); },
    async run() {
      await Promise.all([...children].map((c) => stopChild(c)));
      const work = deferred;
      deferred = [];
      for (const fn of work.reverse()) await fn().catch(() => undefined);
      removeDirs();
    },
    runSync() {
      for (const c of children) if (running(c)) c.kill('SIGKILL');
      removeDirs();
    },
  };
}


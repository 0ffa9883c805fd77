// Child processes of the proxy benchmark: pinned to a CPU with taskset (which execs the
// command, so the pid is the command's own), tracked so every exit path stops them.
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

export interface Pinned {
  name: string;
  child: ChildProcess;
  output(): string;
  alive(): boolean;
  /** SIGTERM, then SIGKILL after graceMs; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<Pinned>();
const dirs = new Set<string>();

export function startPinned(name: string, cpu: string, command: string, args: string[], opts: { stdin?: boolean; env?: NodeJS.ProcessEnv } = {}): Pinned {
  const child = spawn('taskset', ['-c', cpu, command, ...args], { env: opts.env ?? process.env, stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (c: Buffer) => { out += c.toString(); if (out.length > 200_000) out = out.slice(-100_000); };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    child.once('exit', (code, signal) => res({ code, signal }));
    child.once('error', (err) => { out += `\n${err.message}`; res({ code: 127, signal: null }); });
  });
  const alive = () => child.exitCode === null && child.signalCode === null && child.pid !== undefined;
  const p: Pinned = {
    name, child, exited, alive,
    output: () => out,
    async stop(graceMs = 3000) {
      if (alive()) {
        child.kill('SIGTERM');
        const t = setTimeout(() => { if (alive()) child.kill('SIGKILL'); }, graceMs);
        await exited;
        clearTimeout(t);
      }
      running.delete(p);
    },
  };
  running.add(p);
  void exited.then(() => running.delete(p));
  return p;
}

/** Waits until `predicate(output)` holds, the process exits, or timeoutMs passes. */
export async function waitForOutput(p: Pinned, predicate: (out: string) => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (predicate(p.output())) return;
    if (!p.alive()) throw new Error(`${p.name} exited before it was ready:\n${p.output()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${p.name} was not ready within ${timeoutMs} ms:\n${p.output()}`);
}

export function trackDir(dir: string): void {
  dirs.add(dir);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
}

/** Last resort on process exit: SIGKILL whatever is left and remove the temp folders. */
export function killAllSync(): void {
  for (const p of running) if (p.alive()) p.child.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

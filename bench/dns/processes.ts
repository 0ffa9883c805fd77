// Child processes of the benchmark: each is started pinned to a core with taskset, tracked so
// that every exit path (normal, error, Ctrl-C, SIGTERM) kills it, and sampled from /proc.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';

export interface Pinned {
  name: string;
  child: ChildProcess;
  pid: number;
  /** stdout and stderr so far (the tail, for error messages). */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

export interface Cleanup {
  track(p: Pinned): void;
  trackDir(dir: string): void;
  /** Stops every tracked process still running and removes the folders. Safe to call twice. */
  run(): Promise<void>;
  /** Synchronous last resort for process 'exit': SIGKILL and rm. */
  runSync(): void;
}

export function createCleanup(): Cleanup {
  const procs = new Set<Pinned>();
  const dirs = new Set<string>();
  const removeDirs = () => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    dirs.clear();
  };
  return {
    track: (p) => { procs.add(p); p.exited.then(() => procs.delete(p)); },
    trackDir: (d) => { dirs.add(d); },
    async run() {
      await Promise.all([...procs].map((p) => p.stop()));
      removeDirs();
    },
    runSync() {
      for (const p of procs) if (p.alive()) p.child.kill('SIGKILL');
      removeDirs();
    },
  };
}

/** Runs `command args` on `cpu` (taskset execs the command, so the pid is the command's own). */
export function startPinned(name: string, cpu: string, command: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Pinned {
  const child = spawn('taskset', ['-c', cpu, command, ...args], { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (chunk: Buffer) => { out += chunk.toString(); if (out.length > 200_000) out = out.slice(-100_000); };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    child.once('exit', (code, signal) => res({ code, signal }));
    child.once('error', (err) => { out += `\n${err.message}`; res({ code: 127, signal: null }); });
  });
  const alive = () => child.exitCode === null && child.signalCode === null && child.pid !== undefined;
  return {
    name, child, pid: child.pid ?? -1, exited, alive,
    output: () => out,
    async stop(graceMs = 5000) {
      if (!alive()) { await exited; return; }
      child.kill('SIGTERM');
      const t = setTimeout(() => { if (alive()) child.kill('SIGKILL'); }, graceMs);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Pins this process (all its threads) to `cpu`, so the harness stays off the server's core. */
export function pinSelf(cpu: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpu, String(process.pid)], { stdio: 'ignore' });
}

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** CPU seconds (user + system, all threads) used so far by `pid`. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** Resident set size of `pid` in KiB (VmRSS). */
export function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]);
}

/** Busy and total clock ticks of one CPU so far, from /proc/stat (busy: all but idle and iowait). */
export function cpuTicks(cpu: string): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${cpu} `));
  if (!line) throw new Error(`no cpu${cpu} line in /proc/stat`);
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);   // user nice system idle iowait irq softirq steal
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3] - f[4], total };
}

export interface Usage {
  cpuSeconds: number;        // used by the process
  wallSeconds: number;
  peakRssKiB: number;
  serverCoreBusy: number;    // share of the server's core that was busy (the process, its kernel work, anything else)
  clientCoreBusy: number;    // the same for the load generator's core
}

/** Samples RSS every `everyMs` until stopped; CPU figures are differences between start and stop. */
export function sampleUsage(pid: number, serverCpu: string, clientCpu: string, everyMs = 100): { stop(): Usage } {
  const cpu0 = cpuSeconds(pid);
  const server0 = cpuTicks(serverCpu);
  const client0 = cpuTicks(clientCpu);
  const t0 = performance.now();
  let peak = rssKiB(pid);
  const timer = setInterval(() => {
    try { peak = Math.max(peak, rssKiB(pid)); } catch { /* gone: the caller notices the exit */ }
  }, everyMs);
  const share = (a: { busy: number; total: number }, b: { busy: number; total: number }) => (b.total > a.total ? (b.busy - a.busy) / (b.total - a.total) : 0);
  return {
    stop() {
      clearInterval(timer);
      peak = Math.max(peak, rssKiB(pid));
      return {
        cpuSeconds: cpuSeconds(pid) - cpu0,
        wallSeconds: (performance.now() - t0) / 1000,
        peakRssKiB: peak,
        serverCoreBusy: share(server0, cpuTicks(serverCpu)),
        clientCoreBusy: share(client0, cpuTicks(clientCpu)),
      };
    },
  };
}

// Whole-process harness: runs the real `switchyard` command (bin/switchyard.js on the Node that
// npm ci brought) in a temp folder, with free loopback ports handed in through environment
// variables that the YAML references: ${DNS_PORT}, ${ADMIN_PORT}, ${PROXY_PORT}.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.ts';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const NODE = process.execPath;
export const BIN = join(REPO, 'bin/switchyard.js');
/**
 * The Node flags switchyard is started with (deploy/Dockerfile's ENTRYPOINT, bin/switchyard.js's
 * shebang; test/unit/node-flags.test.ts keeps the three the same): a young generation of at most
 * 2 × 2 MiB instead of V8's 2 × 64 MiB, which under full proxy load took the peak RSS from about
 * 220 to about 120 MiB (2 × 4 MiB, docs/benchmarks.md "Peak memory") and, with SERVE_ENV, to
 * 94-99 MiB (2 × 2 MiB; 98-104 with 2 × 4; "Round 4"), at no CPU cost that stands out of the
 * run-to-run noise. The heap's
 * size is fixed when the isolate is made, so `v8.setFlagsFromString` cannot set it later.
 * The benchmarks start serve with them, as the image does.
 */
export const SERVE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];
/**
 * The environment switchyard is started with (deploy/Dockerfile's ENV, bin/switchyard.js's
 * shebang; test/unit/node-flags.test.ts keeps them the same): glibc's malloc with two arenas
 * instead of up to eight per core, and a fixed trim threshold, which turns off glibc's dynamic
 * threshold. V8's background threads (concurrent marking, the optimizing compilers) malloc their
 * working memory, and after one large compile (undici's WebAssembly HTTP parser by TurboFan, about
 * 22 MiB at its peak) the dynamic threshold had risen so far that freed memory stayed in each
 * thread's arena for good. Under the proxy benchmark's load: peak 107.5-111.5 MiB without,
 * 97.6-101.2 MiB with both, no measurable CPU cost (docs/benchmarks.md, "Round 4"). And an mmap
 * threshold of 32 KiB: the compilers' working memory comes in chunks of up to 32 KiB (V8's zone
 * segments), which then get their own mappings and go back to the system when a compile ends,
 * instead of leaving holes in the arenas that the trim threshold cannot reach (it only trims an
 * arena's top). Peak 92-101 MiB without, 87-92 with it, about 50 mmap/munmap calls a second under
 * load (docs/benchmarks.md, "Round 5"). That threshold also catches the 64 KiB buffer Node mallocs
 * for every UDP read (libuv's suggested size; Node copies the datagram out and frees it): whenever
 * the arena's top had less than 64 KiB left, each read took an mmap, a page fault and a munmap,
 * up to 35,000 faults a second, and the DNS path's CPU per query doubled for as long as it lasted.
 * A top pad of 1 MiB (each time the heap grows, it grows by 1 MiB more, and a trim leaves 1 MiB)
 * keeps those buffers in the heap: under the DNS benchmark 0 of 10 rounds with such a storm against
 * 5 of 14 without it, the proxy's peak unchanged within the noise (docs/benchmarks.md, "Round 6").
 * The pad applies to the main arena only: glibc grows its other arena (worker threads) by exactly
 * what is asked, so dns.workers > 1 can still see such faults. glibc reads them once, at the
 * process's start; musl and other allocators ignore them.
 * The benchmarks start serve and the Node anchors with them, as the image does.
 */
export const SERVE_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2', MALLOC_TRIM_THRESHOLD_: '131072', MALLOC_MMAP_THRESHOLD_: '32768', MALLOC_TOP_PAD_: '1048576' };

export interface SwitchyardProcess {
  dir: string;
  configFile: string;
  adminUrl: string;
  dnsPort: number;
  adminPort: number;
  proxyPort: number;
  env: Record<string, string>;
  child: ChildProcess;
  logs(): string;
  /** Sends the signal (default SIGTERM) and resolves with the exit code (null when killed by a signal). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  /** SIGKILL, no cleanup: for crash scenarios. */
  kill(): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface StartOptions {
  config: string;                      // YAML text
  env?: Record<string, string>;
  dir?: string;                        // reuse a folder (state file survives a restart)
  ports?: { dns?: number; admin?: number; proxy?: number };
  waitReady?: boolean;                 // default true: resolves when /readyz answers 200
  /** A command that execs the rest (e.g. ['prlimit', '--nofile=4096:4096', '--']): the child's pid stays switchyard's. */
  prefix?: string[];
  /** Flags for node itself, before bin/switchyard.js (e.g. SERVE_NODE_FLAGS, as the image starts it). */
  nodeFlags?: readonly string[];
  readyTimeoutMs?: number;
  /**
   * Replaces the readiness request to /readyz: for a process inside a network namespace (`prefix`
   * = the site's `wrap`), whose loopback the test process cannot reach; true when ready.
   */
  readyCheck?: (proc: SwitchyardProcess) => Promise<boolean>;
}

export async function startSwitchyard(opts: StartOptions): Promise<SwitchyardProcess> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'switchyard-e2e-'));
  const configFile = join(dir, 'switchyard.yaml');
  writeFileSync(configFile, opts.config);
  const dnsPort = opts.ports?.dns ?? await freePort();
  const adminPort = opts.ports?.admin ?? await freePort();
  const proxyPort = opts.ports?.proxy ?? await freePort();
  const env: Record<string, string> = {
    PATH: `${dirname(NODE)}:${process.env.PATH ?? ''}`,
    HOME: process.env.HOME ?? dir,
    DNS_PORT: String(dnsPort), ADMIN_PORT: String(adminPort), PROXY_PORT: String(proxyPort),
    ...opts.env,
  };
  const argv = [...(opts.prefix ?? []), NODE, ...(opts.nodeFlags ?? []), BIN, 'serve', '--config', configFile];
  const child = spawn(argv[0], argv.slice(1), { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (chunk: Buffer) => { out += chunk.toString(); if (out.length > 4_000_000) out = out.slice(-2_000_000); };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.once('exit', (code, signal) => res({ code, signal })));
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const proc: SwitchyardProcess = {
    dir, configFile, adminUrl, dnsPort, adminPort, proxyPort, env, child, exited,
    logs: () => out,
    async stop(signal = 'SIGTERM', timeoutMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const r = await exited;
      clearTimeout(t);
      return r.code;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
  if (opts.waitReady === false) return proc;
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 20_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`switchyard exited (${child.exitCode ?? child.signalCode}) before becoming ready:\n${out}`);
    }
    try {
      if (opts.readyCheck) {
        if (await opts.readyCheck(proc)) return proc;
      } else {
        const res = await fetch(`${adminUrl}/readyz`, { signal: AbortSignal.timeout(1000) });
        if (res.status === 200) return proc;
      }
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  await proc.kill();
  throw new Error(`switchyard did not become ready within ${opts.readyTimeoutMs ?? 20_000} ms:\n${out}`);
}

/** Runs a one-shot CLI command (validate, status, failover, ...) and collects its output. */
export function runCli(args: string[], opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    const child = spawn(NODE, [BIN, ...args], {
      cwd: opts.cwd ?? REPO,
      env: { PATH: `${dirname(NODE)}:${process.env.PATH ?? ''}`, HOME: process.env.HOME ?? '/tmp', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => { stdout += c; });
    child.stderr.on('data', (c) => { stderr += c; });
    const t = setTimeout(() => { child.kill('SIGKILL'); rej(new Error(`switchyard ${args.join(' ')} timed out\n${stdout}\n${stderr}`)); }, opts.timeoutMs ?? 30_000);
    child.once('exit', (code) => { clearTimeout(t); res({ code, stdout, stderr }); });
  });
}

export function writeFile(dir: string, name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

// The lock that keeps a second `serve` off the same state file: `<file>.lock`, created with
// O_EXCL, holding the owner's identity { pid, startTicks, bootId, host, startedAt }. Node has no
// flock, and a lock file alone would survive a kill -9 for ever, so staleness is decided by the
// owner's identity: on the same host (and boot) a lock whose pid is gone, or is now a different
// process (its start time in /proc/<pid>/stat differs: pid reuse), is stale and taken over at
// once. A lock from another host (a rescheduled pod on a shared volume) cannot be checked that
// way: its owner refreshes the file's mtime every `heartbeatMs`, and it is stale once the mtime
// is older than `staleMs`. A live lock refuses the start with SWY_STATE_LOCKED.
import { fs } from '../node-builtins.ts';
import { open, readFile, stat, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { SwitchyardError } from '../errors.ts';

const { readFileSync } = fs;

export interface LockOwner { pid: number; startTicks: number | null; bootId: string | null; host: string; startedAt: string }

export interface StateLock {
  readonly path: string;
  /** Takes the lock (taking over a stale one, reported through onStale) or throws SWY_STATE_LOCKED. */
  acquire(): Promise<void>;
  /** Removes the lock if it is still ours. */
  release(): Promise<void>;
}

export interface StateLockOptions {
  file: string;
  heartbeatMs?: number;
  staleMs?: number;
  /** Told when a stale lock was taken over, or when the lock went missing or was taken while running. */
  onProblem?: (message: string) => void;
}

export const lockPath = (file: string): string => `${file}.lock`;

function readOr(path: string, fallback: string | null): string | null {
  try { return readFileSync(path, 'utf8').trim(); } catch { return fallback; }
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), or null when there is no such (live) process. */
export function processStartTicks(pid: number): number | null {
  const text = readOr(`/proc/${pid}/stat`, null);
  if (text === null) return null;
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // A zombie (exited, not yet reaped: no init in a container) is gone.
  if (fields[0] === 'Z' || fields[0] === 'X') return null;
  const ticks = Number(fields[19]);
  return Number.isFinite(ticks) ? ticks : null;
}

export const bootId = (): string | null => readOr('/proc/sys/kernel/random/boot_id', null);

/** This process's identity as a lock owner (and, for exec hooks, the same shape for a child). */
export function ownerOf(pid: number): LockOwner {
  return { pid, startTicks: processStartTicks(pid), bootId: bootId(), host: hostname(), startedAt: new Date().toISOString() };
}

/** Whether the process `o` names is still running here (false when it is provably gone; null when it cannot be told). */
export function ownerAlive(o: Pick<LockOwner, 'pid' | 'startTicks' | 'bootId' | 'host'>): boolean | null {
  if (o.host !== hostname()) return null;
  if (o.bootId !== null && bootId() !== null && o.bootId !== bootId()) return false;
  const ticks = processStartTicks(o.pid);
  if (ticks === null) return false;
  return o.startTicks === null ? true : ticks === o.startTicks;
}

function parseOwner(text: string): LockOwner | null {
  try {
    const v = JSON.parse(text) as Partial<LockOwner>;
    if (typeof v.pid !== 'number' || typeof v.host !== 'string') return null;
    return { pid: v.pid, startTicks: typeof v.startTicks === 'number' ? v.startTicks : null, bootId: typeof v.bootId === 'string' ? v.bootId : null, host: v.host, startedAt: String(v.startedAt ?? '') };
  } catch {
    return null;
  }
}

export function createStateLock(options: StateLockOptions): StateLock & { heartbeat(): Promise<void> } {
  const path = lockPath(options.file);
  const heartbeatMs = options.heartbeatMs ?? 5000;
  const staleMs = options.staleMs ?? 30_000;
  const me = ownerOf(process.pid);
  const mine = JSON.stringify(me);
  let held = false;
  let timer: NodeJS.Timeout | undefined;

  /** true: created; false: it exists; 'unwritable': the filesystem is full or read-only. */
  async function create(): Promise<boolean | 'unwritable'> {
    let created = false;
    try {
      const fh = await open(path, 'wx', 0o600);
      created = true;
      try { await fh.writeFile(`${mine}\n`); await fh.sync(); } finally { await fh.close(); }
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return false;
      if (created) await unlink(path).catch(() => {});
      if (code === 'ENOSPC' || code === 'EROFS' || code === 'EDQUOT') return 'unwritable';
      throw new SwitchyardError('SWY_STATE_LOCKED', `cannot create the state lock ${path}: ${(err as Error).message}`, { lock: path }, { cause: err });
    }
  }

  /** Why the existing lock is stale, or undefined when its owner may be alive (then it throws). */
  async function judge(): Promise<string | undefined> {
    let text: string;
    let mtimeMs: number;
    try {
      text = await readFile(path, 'utf8');
      mtimeMs = (await stat(path)).mtimeMs;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'it vanished';
      throw new SwitchyardError('SWY_STATE_LOCKED', `cannot read the state lock ${path}: ${(err as Error).message}`, { lock: path }, { cause: err });
    }
    const owner = parseOwner(text);
    const age = Date.now() - mtimeMs;
    if (owner === null) {
      if (age > staleMs) return `it is unreadable and ${Math.round(age / 1000)} s old`;
      throw new SwitchyardError('SWY_STATE_LOCKED', `the state lock ${path} exists but is unreadable (being written?); another switchyard may be starting on ${options.file}`, { lock: path });
    }
    if (owner.pid === me.pid && owner.host === me.host && owner.startTicks === me.startTicks) return 'it is our own';
    const alive = ownerAlive(owner);
    if (alive === false) return `its owner, pid ${owner.pid} on ${owner.host} (started ${owner.startedAt}), is gone`;
    if (alive === null && age > staleMs) return `its owner, pid ${owner.pid} on host ${owner.host}, has not refreshed it for ${Math.round(age / 1000)} s`;
    const how = alive === null ? `on host ${owner.host} (refreshed ${Math.round(age / 1000)} s ago; taken over once it is ${Math.round(staleMs / 1000)} s old)` : 'on this host, still running';
    throw new SwitchyardError('SWY_STATE_LOCKED', `state file ${options.file} is in use by another switchyard: pid ${owner.pid} ${how}, since ${owner.startedAt}. Two instances on one state file would answer differently; stop the other one (or use several instances with etcd)`, { lock: path, owner });
  }

  async function heartbeat(): Promise<void> {
    if (!held) return;
    const text = await readFile(path, 'utf8').catch(() => null);
    if (text === null) {
      options.onProblem?.(`the state lock ${path} was deleted while running; recreated it`);
      await create().catch(() => false);
      return;
    }
    if (text.trim() !== mine) {
      options.onProblem?.(`the state lock ${path} now belongs to someone else (${text.trim().slice(0, 200)}): another switchyard took over this state file`);
      return;
    }
    const t = new Date();
    await utimes(path, t, t).catch(() => {});
  }

  return {
    path,
    heartbeat,
    async acquire() {
      for (let i = 0; i < 3 && !held; i++) {
        const made = await create();
        if (made === 'unwritable') {
          // Serving the stored state beats not answering at all; nothing can be written here
          // (so a second instance cannot write either), and the first write reports the store failing.
          options.onProblem?.(`cannot create the state lock ${path}: the filesystem is full or read-only; starting without the lock`);
          return;
        }
        if (made) {
          // Two starts that both judged one stale lock could each remove the other's new one:
          // look again a moment later, and the one whose lock is gone loses.
          await new Promise((r) => setTimeout(r, 100));
          const text = await readFile(path, 'utf8').catch(() => null);
          if (text !== null && text.trim() === mine) { held = true; break; }
          continue;
        }
        const stale = await judge();
        if (stale === 'it is our own') { held = true; break; }
        options.onProblem?.(`took over the stale state lock ${path}: ${stale}`);
        await unlink(path).catch(() => {});
      }
      if (!held) throw new SwitchyardError('SWY_STATE_LOCKED', `could not take the state lock ${path} (another switchyard is starting on ${options.file}?)`, { lock: path });
      timer = setInterval(() => { void heartbeat(); }, heartbeatMs);
      timer.unref();
    },
    async release() {
      clearInterval(timer);
      if (!held) return;
      held = false;
      const text = await readFile(path, 'utf8').catch(() => null);
      if (text !== null && text.trim() === mine) await unlink(path).catch(() => {});
    },
  };
}

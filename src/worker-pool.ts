// Worker threads that serve from the routing state (dns.workers, proxy.workers). The main thread
// broadcasts every routing snapshot to every worker and tracks the generation each one
// acknowledges, so the switch-traffic step can wait until every answering socket serves the new
// state (awaitGeneration); it also replaces a worker that dies. The worker side (serveThread)
// follows those snapshots as a RoutingSource, runs one server on it and acknowledges each
// generation once the server has applied it. What the threads serve is up to the caller.
import { getCompileCacheDir } from 'node:module';
import { Worker, parentPort, workerData } from 'node:worker_threads';
import { SwitchyardError, type ErrorCode } from './errors.ts';
import type { Logger } from './log.ts';
import type { RoutingSnapshot, RoutingSource } from './routing/types.ts';

export interface ThreadData<P> {
  index: number;
  snapshot: RoutingSnapshot;
  logLevel: string;
  /** What the caller's worker entry needs (structured-cloned; SharedArrayBuffers stay shared). */
  payload: P;
}
export type ToThread = { type: 'routing'; snapshot: RoutingSnapshot } | { type: 'close' };
export type FromThread<L, E> =
  | { type: 'listening'; listening: L; generation: number }
  | { type: 'serving'; generation: number }
  | { type: 'event'; event: E }
  | { type: 'failed'; code: string | undefined; message: string };

export interface WorkerPoolOptions<P, E> {
  /** What the threads serve, for logs, errors and thread names: 'DNS', 'proxy'. */
  what: string;
  /** The worker's entry module (it calls serveThread). */
  entry: URL;
  workers: number;
  /** The payload of worker `index`, asked afresh for every (re)start. */
  payload(index: number): P;
  /** A worker sent an event (emit on its side). */
  onEvent?(index: number, event: E): void;
  /** A started worker exited: whatever it held (connections, levels) is gone. */
  onExit?(index: number): void;
}
export interface WorkerPoolDeps { routing: RoutingSource; logger: Logger }

export interface WorkerPool<L> {
  /** Starts worker `index`; resolves with what it reported once listening, rejects when it cannot listen. */
  spawn(index: number): Promise<L>;
  /** Broadcasts the current snapshot and every later one (call once the workers started). */
  follow(): void;
  /** Asks every worker to close and waits for it (terminated after CLOSE_TIMEOUT_MS). */
  close(): Promise<void>;
  /** The lowest generation any running worker serves. */
  generation(): number;
  /** Per worker: the generation it serves, 0 while it is down. */
  serving(): number[];
  /** Resolves once every running worker serves generation `generation` or later. */
  awaitGeneration(generation: number, signal?: AbortSignal): Promise<void>;
}

/** A dead worker is replaced after this long (its sockets are gone: the others serve meanwhile). */
const RESTART_DELAY_MS = 1000;
/** How long close() waits for a worker to close its sockets before terminating it. */
const CLOSE_TIMEOUT_MS = 5000;

/**
 * A worker has a module loader of its own: started on the .ts file directly it would strip the
 * sources again and load the stripper (about 17 MiB per worker). The bootstrap turns on the
 * process's compile cache (bin/switchyard.js enables it) before importing the entry.
 */
function bootstrap(entry: URL): string {
  const cache = getCompileCacheDir();
  return `${cache === undefined ? '' : `require('node:module').enableCompileCache(${JSON.stringify(cache)});`} import(${JSON.stringify(entry.href)});`;
}

interface Slot { index: number; worker: Worker | null; serving: number }

/**
 * A worker's share of a connection limit that is the process's (and fitted to its file-descriptor
 * budget, src/fd-budget.ts), at least 1. `total`: rounded down, so the shares never sum past the
 * limit. `perSource`: rounded up, since the kernel's hash spreads one source's connections over
 * the workers like everyone else's.
 */
export function workerShare(limit: number, workers: number, kind: 'total' | 'perSource'): number {
  return Math.max(1, kind === 'total' ? Math.floor(limit / workers) : Math.ceil(limit / workers));
}

export function createWorkerPool<P, L, E = never>(options: WorkerPoolOptions<P, E>, deps: WorkerPoolDeps): WorkerPool<L> {
  const { what } = options;
  const { logger } = deps;
  const slots: Slot[] = Array.from({ length: options.workers }, (_, index) => ({ index, worker: null, serving: 0 }));
  let closing = false;
  let unsubscribe: (() => void) | null = null;
  const waiters = new Set<{ generation: number; resolve: () => void }>();
  const restarts = new Set<NodeJS.Timeout>();

  const lowest = () => Math.min(...slots.filter((s) => s.worker !== null).map((s) => s.serving));
  const settle = () => {
    const g = lowest();
    for (const w of waiters) if (w.generation <= g) { waiters.delete(w); w.resolve(); }
  };

  const spawn = (index: number) => new Promise<L>((resolve, reject) => {
    const slot = slots[index];
    const data: ThreadData<P> = { index, snapshot: deps.routing.current(), logLevel: logger.level, payload: options.payload(index) };
    const worker = new Worker(bootstrap(options.entry), { eval: true, workerData: data, name: `${what.toLowerCase()}-${index}` });
    // Counted (and sent every snapshot) from now on: a worker that is still starting holds back
    // awaitGeneration like the others, so it can never start serving from an older state.
    slot.worker = worker;
    slot.serving = data.snapshot.generation;
    let started = false;
    worker.on('message', (m: FromThread<L, E>) => {
      if (m.type === 'listening') {
        started = true;
        slot.serving = m.generation;
        resolve(m.listening);
        settle();
      } else if (m.type === 'serving') {
        slot.serving = m.generation;
        settle();
      } else if (m.type === 'event') {
        options.onEvent?.(index, m.event);
      } else {
        reject(new SwitchyardError((m.code ?? 'SWY_LISTEN_FAILED') as ErrorCode, m.message, { worker: index }));
      }
    });
    worker.on('error', (err) => {
      logger.error({ err, worker: index }, `${what} worker ${index} failed: ${err.message}`);
      if (!started) reject(err);
    });
    worker.on('exit', (code) => {
      if (slot.worker === worker) slot.worker = null;
      if (!started) { reject(new SwitchyardError('SWY_LISTEN_FAILED', `${what} worker ${index} exited (code ${code}) before listening`, { worker: index })); return; }
      if (closing) return;
      settle();
      options.onExit?.(index);
      logger.error({ worker: index, code }, `${what} worker ${index} exited (code ${code}); the other workers serve, a new one starts in ${RESTART_DELAY_MS} ms`);
      const t = setTimeout(() => {
        restarts.delete(t);
        if (closing) return;
        spawn(index).then(() => logger.info({ worker: index }, `${what} worker ${index} replaced`),
          (err) => logger.error({ err, worker: index }, `${what} worker ${index} could not be replaced: ${err.message}`));
      }, RESTART_DELAY_MS);
      restarts.add(t);
    });
  });

  const broadcast = (snapshot: RoutingSnapshot) => {
    const m: ToThread = { type: 'routing', snapshot };
    for (const s of slots) s.worker?.postMessage(m);
  };

  return {
    spawn,
    follow() {
      unsubscribe = deps.routing.subscribe(broadcast);
      broadcast(deps.routing.current());
    },
    async close() {
      closing = true;
      unsubscribe?.();
      unsubscribe = null;
      for (const t of restarts) clearTimeout(t);
      await Promise.all(slots.map(async (s) => {
        const w = s.worker;
        if (w === null) return;
        const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
        w.postMessage({ type: 'close' } satisfies ToThread);
        const timer = setTimeout(() => { void w.terminate(); }, CLOSE_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
        s.worker = null;
      }));
      for (const w of waiters) w.resolve();
      waiters.clear();
    },
    generation: () => lowest(),
    serving: () => slots.map((s) => (s.worker === null ? 0 : s.serving)),
    awaitGeneration(generation, signal) {
      return new Promise<void>((resolve, reject) => {
        if (closing || lowest() >= generation) { resolve(); return; }
        const w = { generation, resolve: () => { signal?.removeEventListener('abort', onAbort); resolve(); } };
        const onAbort = () => { waiters.delete(w); reject(signal!.reason); };
        signal?.addEventListener('abort', onAbort, { once: true });
        waiters.add(w);
      });
    },
  };
}

/** What a worker entry runs on its side of the pool. */
export interface ThreadServer<L> {
  start(): Promise<void>;
  close(): Promise<void>;
  /** The routing generation the server has applied (it must apply a snapshot synchronously in its subscriber). */
  generation(): number;
  /** What to report once listening (bound addresses). */
  listening(): L;
}

export interface ThreadContext<P, E> {
  data: ThreadData<P>;
  /** The snapshots the main thread broadcasts, newest first; never an older one after a newer. */
  routing: RoutingSource;
  /** Sends an event to the pool's onEvent. */
  emit(event: E): void;
}

/**
 * The worker side: builds the server on the broadcast routing, starts it and reports it
 * listening, then applies every newer snapshot and acknowledges the generation it serves.
 * `onClosed` runs after the server closed (flush logs there).
 */
export async function serveThread<P, L, E = never>(create: (ctx: ThreadContext<P, E>) => ThreadServer<L>, onClosed?: () => void): Promise<void> {
  const data = workerData as ThreadData<P>;
  const port = parentPort!;
  const post = (m: FromThread<L, E>) => port.postMessage(m);
  let snapshot = data.snapshot;
  const subscribers = new Set<(s: RoutingSnapshot) => void>();
  const routing: RoutingSource = {
    current: () => snapshot,
    subscribe(fn) { subscribers.add(fn); return () => { subscribers.delete(fn); }; },
  };
  const server = create({ data, routing, emit: (event) => post({ type: 'event', event }) });
  port.on('message', (m: ToThread) => {
    if (m.type === 'routing') {
      if (m.snapshot.generation <= snapshot.generation) return;
      snapshot = m.snapshot;
      for (const fn of subscribers) fn(snapshot);
      post({ type: 'serving', generation: server.generation() });
    } else {
      void server.close().finally(() => { onClosed?.(); port.close(); });
    }
  });
  try {
    await server.start();
    post({ type: 'listening', listening: server.listening(), generation: server.generation() });
  } catch (err) {
    const e = err as { code?: string; message?: string };
    post({ type: 'failed', code: e.code, message: e.message ?? String(err) });
    port.close();
  }
}

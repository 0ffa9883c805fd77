// dns.workers > 1: that many worker threads (worker-thread.ts), each with its own reusePort UDP
// and TCP sockets on every listen address; the kernel spreads queries over them by source
// address and port. The main thread answers nothing itself: it broadcasts every routing snapshot
// to every worker, tracks the generation each acknowledges (awaitGeneration: the switch-traffic
// step waits for it), reads their counters for the metrics, and replaces a worker that dies.
import { getCompileCacheDir } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Registry } from 'prom-client';
import type { ListenAddress } from '../config/types.ts';
import { SwitchyardError, type ErrorCode } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { RoutingSnapshot, RoutingSource } from '../routing/types.ts';
import { COUNTER_SLOTS, registerDnsMetrics, repliesSent, resetLevels } from './metrics.ts';
import type { DnsServer, DnsServerOptions } from './server.ts';

type Addresses = ReturnType<DnsServer['addresses']>;

export interface WorkerData {
  index: number;
  options: DnsServerOptions;
  /** dns.listen with the ports resolved (the first worker binds the configured ones). */
  listen: ListenAddress[];
  snapshot: RoutingSnapshot;
  /** COUNTER_SLOTS Float64 slots, written by this worker only. */
  counters: SharedArrayBuffer;
  logLevel: string;
}
export type ToWorker = { type: 'routing'; snapshot: RoutingSnapshot } | { type: 'close' };
export type FromWorker =
  | { type: 'listening'; addresses: Addresses; generation: number }
  | { type: 'serving'; generation: number }
  | { type: 'failed'; code: string | undefined; message: string };

export interface DnsWorkers extends DnsServer {
  /** Resolves once every worker serves an answer table of generation `generation` or later. */
  awaitGeneration(generation: number, signal?: AbortSignal): Promise<void>;
  /** Per worker: the generation it serves (0 while it is down) and the replies it has sent. */
  workers(): Array<{ serving: number; replies: number }>;
}

export interface DnsWorkersDeps { routing: RoutingSource; logger: Logger; registry: Registry; workers: number }

/** A dead worker is replaced after this long (its sockets are gone: the others answer meanwhile). */
const RESTART_DELAY_MS = 1000;
/** How long close() waits for a worker to close its sockets before terminating it. */
const CLOSE_TIMEOUT_MS = 5000;

/**
 * A worker has a module loader of its own: started on the .ts file directly it would strip the
 * sources again and load the stripper (about 17 MiB per worker). The bootstrap turns on the
 * process's compile cache (bin/switchyard.js enables it) before importing the entry.
 */
function workerBootstrap(): string {
  const entry = new URL('./worker-thread.ts', import.meta.url).href;
  const cache = getCompileCacheDir();
  return `${cache === undefined ? '' : `require('node:module').enableCompileCache(${JSON.stringify(cache)});`} import(${JSON.stringify(entry)});`;
}

interface Slot { index: number; worker: Worker | null; serving: number; counters: Float64Array; buffer: SharedArrayBuffer }

export function createDnsWorkers(options: DnsServerOptions, deps: DnsWorkersDeps): DnsWorkers {
  const logger = deps.logger.child({ module: 'dns' });
  const slots: Slot[] = Array.from({ length: deps.workers }, (_, index) => {
    const buffer = new SharedArrayBuffer(COUNTER_SLOTS * Float64Array.BYTES_PER_ELEMENT);
    return { index, worker: null, serving: 0, counters: new Float64Array(buffer), buffer };
  });
  registerDnsMetrics(deps.registry, () => slots.map((s) => s.counters));
  let listen: ListenAddress[] = options.dns.listen;
  let bound: Addresses = { udp: [], tcp: [] };
  let closing = false;
  let unsubscribe: (() => void) | null = null;
  const waiters = new Set<{ generation: number; resolve: () => void }>();
  const restarts = new Set<NodeJS.Timeout>();

  const lowest = () => Math.min(...slots.filter((s) => s.worker !== null).map((s) => s.serving));
  const settle = () => {
    const g = lowest();
    for (const w of waiters) if (w.generation <= g) { waiters.delete(w); w.resolve(); }
  };

  /** Starts the worker of `slot`; resolves when its sockets are bound, rejects when they cannot be. */
  const spawn = (slot: Slot) => new Promise<Addresses>((resolve, reject) => {
    const data: WorkerData = { index: slot.index, options, listen, snapshot: deps.routing.current(), counters: slot.buffer, logLevel: deps.logger.level };
    const worker = new Worker(workerBootstrap(), { eval: true, workerData: data, name: `dns-${slot.index}` });
    // Counted (and sent every snapshot) from now on: a worker that is still starting holds back
    // awaitGeneration like the others, so it can never start answering from an older table.
    slot.worker = worker;
    slot.serving = data.snapshot.generation;
    let started = false;
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'listening') {
        started = true;
        slot.serving = m.generation;
        resolve(m.addresses);
        settle();
      } else if (m.type === 'serving') {
        slot.serving = m.generation;
        settle();
      } else {
        reject(new SwitchyardError((m.code ?? 'SWY_LISTEN_FAILED') as ErrorCode, m.message, { worker: slot.index }));
      }
    });
    worker.on('error', (err) => {
      logger.error({ err, worker: slot.index }, `DNS worker ${slot.index} failed: ${err.message}`);
      if (!started) reject(err);
    });
    worker.on('exit', (code) => {
      if (slot.worker === worker) slot.worker = null;
      if (!started) { reject(new SwitchyardError('SWY_LISTEN_FAILED', `DNS worker ${slot.index} exited (code ${code}) before listening`, { worker: slot.index })); return; }
      if (closing) return;
      settle();
      resetLevels(slot.counters);   // its open TCP connections and rate-limit accounts went with it
      logger.error({ worker: slot.index, code }, `DNS worker ${slot.index} exited (code ${code}); the other workers answer, a new one starts in ${RESTART_DELAY_MS} ms`);
      const t = setTimeout(() => {
        restarts.delete(t);
        if (closing) return;
        spawn(slot).then(() => logger.info({ worker: slot.index }, `DNS worker ${slot.index} replaced`),
          (err) => logger.error({ err, worker: slot.index }, `DNS worker ${slot.index} could not be replaced: ${err.message}`));
      }, RESTART_DELAY_MS);
      restarts.add(t);
    });
  });

  const broadcast = (snapshot: RoutingSnapshot) => {
    const m: ToWorker = { type: 'routing', snapshot };
    for (const s of slots) s.worker?.postMessage(m);
  };

  const close = async () => {
    closing = true;
    unsubscribe?.();
    unsubscribe = null;
    for (const t of restarts) clearTimeout(t);
    await Promise.all(slots.map(async (s) => {
      const w = s.worker;
      if (w === null) return;
      const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
      w.postMessage({ type: 'close' } satisfies ToWorker);
      const timer = setTimeout(() => { void w.terminate(); }, CLOSE_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
      s.worker = null;
    }));
    for (const w of waiters) w.resolve();
    waiters.clear();
  };

  return {
    async start() {
      try {
        // The first worker binds the configured ports (0: any); the others join it on the same ones.
        bound = await spawn(slots[0]);
        listen = options.dns.listen.map((l, i) => ({ ...l, port: bound.udp[i].port }));
        await Promise.all(slots.slice(1).map((s) => spawn(s)));
      } catch (err) {
        await close();
        throw err;
      }
      unsubscribe = deps.routing.subscribe(broadcast);
      broadcast(deps.routing.current());
      logger.info({ workers: slots.length, listen: bound.udp }, `DNS answered by ${slots.length} worker threads on every listen address (reusePort)`);
    },
    close,
    addresses: () => bound,
    generation: () => lowest(),
    workers: () => slots.map((s) => ({ serving: s.worker === null ? 0 : s.serving, replies: repliesSent(s.counters) })),
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

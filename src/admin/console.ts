// The live console's server side: a small in-memory ring of probe results per probe (the
// latency chart's last 15 minutes), the moves before the current one (the state keeps only the
// last), and server-sent events that push the console's view whenever it changes.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../log.ts';
import type { Transition } from '../routing/index.ts';
import type { StatusView } from './status.ts';

export const HISTORY_WINDOW_MS = 15 * 60_000;
/** Samples kept per probe: 15 minutes at a 500 ms interval, and then some. */
const RING_SIZE = 2048;
const PREVIOUS_MOVES = 5;
const TICK_MS = 500;
const HEARTBEAT_MS = 15_000;
const MAX_EVENT_CLIENTS = 32;

export interface ProbeSeries { cluster: string; probe: string; t: number[]; ms: Array<number | null>; ok: boolean[] }

interface Ring { cluster: string; probe: string; t: Float64Array; ms: Float64Array; ok: Uint8Array; next: number; size: number; last: string | null }

export interface ConsoleView {
  status: StatusView;
  /** Moves before the current one, newest first; kept in memory since this process started. */
  previousMoves: Transition[];
  /** Mutating calls need the bearer token: the page asks for it. */
  tokenRequired: boolean;
  /** The page's own buttons may ask for a dry run. */
  actions: boolean;
}

export interface ConsoleFeed {
  /** Records new probe results and notices a new move; called on every tick. */
  sample(status: StatusView, nowMs: number): void;
  history(nowMs: number): { windowMs: number; probes: ProbeSeries[] };
  previousMoves(): Transition[];
}

export function createConsoleFeed(): ConsoleFeed {
  const rings = new Map<string, Ring>();
  const previous: Transition[] = [];
  let current: Transition | null = null;
  return {
    sample(status, nowMs) {
      for (const c of status.clusters) {
        for (const p of c.probes) {
          if (p.checkedAt === null || p.ok === null) continue;
          const key = `${c.name}\u0000${p.name}`;
          let r = rings.get(key);
          if (!r) { r = { cluster: c.name, probe: p.name, t: new Float64Array(RING_SIZE), ms: new Float64Array(RING_SIZE), ok: new Uint8Array(RING_SIZE), next: 0, size: 0, last: null }; rings.set(key, r); }
          if (r.last === p.checkedAt) continue;
          r.last = p.checkedAt;
          const at = Date.parse(p.checkedAt);
          r.t[r.next] = Number.isFinite(at) ? at : nowMs;
          r.ms[r.next] = p.latencyMs ?? Number.NaN;
          r.ok[r.next] = p.ok ? 1 : 0;
          r.next = (r.next + 1) % RING_SIZE;
          r.size = Math.min(r.size + 1, RING_SIZE);
        }
      }
      const t = status.lastTransition;
      if (t && current && t.epoch !== current.epoch) {
        previous.unshift(current);
        previous.length = Math.min(previous.length, PREVIOUS_MOVES);
      }
      if (t) current = t;
    },
    history(nowMs) {
      const probes: ProbeSeries[] = [];
      for (const r of rings.values()) {
        const s: ProbeSeries = { cluster: r.cluster, probe: r.probe, t: [], ms: [], ok: [] };
        for (let i = 0; i < r.size; i++) {
          const j = (r.next - r.size + i + RING_SIZE) % RING_SIZE;
          if (nowMs - r.t[j] > HISTORY_WINDOW_MS) continue;
          s.t.push(r.t[j]);
          s.ms.push(Number.isNaN(r.ms[j]) ? null : Math.round(r.ms[j] * 10) / 10);
          s.ok.push(r.ok[j] === 1);
        }
        probes.push(s);
      }
      return { windowMs: HISTORY_WINDOW_MS, probes };
    },
    previousMoves: () => previous.slice(),
  };
}

/**
 * GET /v1/console (the view plus the probe history: the page's first load and its polling
 * fallback) and GET /v1/events (server-sent events: an `console` event with the view whenever it
 * changes, checked every 500 ms; a comment line every 15 s keeps proxies from closing it).
 */
export function registerConsoleRoutes(app: FastifyInstance<Server, IncomingMessage, ServerResponse, Logger>, deps: { view: () => ConsoleView; feed: ConsoleFeed; now?: () => number }): void {
  const now = deps.now ?? Date.now;
  const clients = new Set<ServerResponse>();
  let lastSent = '';
  let timer: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;

  const tick = () => {
    let view: ConsoleView;
    try { view = deps.view(); } catch (err) { app.log.error({ err }, 'the console view could not be built; skipping this push'); return; }
    deps.feed.sample(view.status, now());
    if (clients.size === 0) return;
    const data = JSON.stringify({ ...view, previousMoves: deps.feed.previousMoves() });
    if (data === lastSent) return;
    lastSent = data;
    const frame = `event: console\ndata: ${data}\n\n`;
    for (const res of clients) res.write(frame);
  };

  app.addHook('onReady', async () => {
    timer = setInterval(tick, TICK_MS);
    timer.unref();
    heartbeat = setInterval(() => { for (const res of clients) res.write(': keep-alive\n\n'); }, HEARTBEAT_MS);
    heartbeat.unref();
  });
  app.addHook('preClose', async () => {
    clearInterval(timer);
    clearInterval(heartbeat);
    for (const res of clients) res.end();
    clients.clear();
  });

  app.get('/v1/console', async (_req, reply) => {
    const view = deps.view();
    deps.feed.sample(view.status, now());
    return reply.header('cache-control', 'no-store').send({ ...view, previousMoves: deps.feed.previousMoves(), history: deps.feed.history(now()) });
  });

  app.get('/v1/events', async (req, reply) => {
    if (clients.size >= MAX_EVENT_CLIENTS) {
      return reply.code(503).header('retry-after', '5').send({ error: { code: 'SWY_ADMIN_UNAVAILABLE', message: `too many event streams open (${MAX_EVENT_CLIENTS}); the page falls back to polling` } });
    }
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    const view = deps.view();
    res.write(`retry: 2000\nevent: console\ndata: ${JSON.stringify({ ...view, previousMoves: deps.feed.previousMoves() })}\n\n`);
    clients.add(res);
    req.raw.once('close', () => { clients.delete(res); });
  });
}

// A cluster's health endpoint for whole-process tests and the benchmarks: a real HTTP server on
// a loopback address that can answer ok, fail, flap, or die (closed with its connections destroyed).
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { freePort } from './ports.ts';

export type HealthMode = 'ok' | 'fail' | 'flap';

export const HEALTH_PATH = '/healthz';

export interface HealthEndpoint {
  url: string;
  port: number;
  mode: HealthMode;
  hits: number;
  /** When the last request was answered (by the `now` clock), null before the first. */
  lastHitAt: number | null;
  /**
   * Stops listening and destroys open connections: the cluster is gone. The listener is closed
   * and the connections destroyed before this returns; the promise waits for the close to finish.
   */
  kill(): Promise<void>;
  /** Listens again on the same address and port. */
  revive(): Promise<void>;
}

export interface HealthEndpointOptions {
  /** Listen on this port (default: a free one). */
  port?: number;
  /** The clock of lastHitAt (default Date.now). */
  now?: () => number;
}

export async function startHealthEndpoint(host: string, opts: HealthEndpointOptions = {}): Promise<HealthEndpoint> {
  const port = opts.port ?? await freePort(host);
  const now = opts.now ?? Date.now;
  let server: Server;
  const sockets = new Set<Socket>();
  const ep: HealthEndpoint = {
    url: `http://${host}:${port}${HEALTH_PATH}`,
    port,
    mode: 'ok',
    hits: 0,
    lastHitAt: null,
    async kill() {
      if (!server.listening) return;
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await closed;
    },
    async revive() { await listen(); },
  };
  const listen = () => new Promise<void>((resolve, reject) => {
    server = createServer((_req, res) => {
      ep.hits++;
      ep.lastHitAt = now();
      const ok = ep.mode === 'ok' || (ep.mode === 'flap' && ep.hits % 2 === 0);
      res.writeHead(ok ? 200 : 503).end(ok ? 'ok' : 'failing');
    });
    server.keepAliveTimeout = 60_000;
    server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  await listen();
  return ep;
}

// A cluster's health endpoint for whole-process tests: a real HTTP server on a loopback
// address that can answer ok, fail, flap, or die (closed with its connections destroyed).
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { freePort } from './switchyard-process.ts';

export type HealthMode = 'ok' | 'fail' | 'flap';

export interface HealthEndpoint {
  url: string;
  mode: HealthMode;
  hits: number;
  /** Stops listening and destroys open connections: the cluster is gone. */
  kill(): Promise<void>;
  /** Listens again on the same address and port. */
  revive(): Promise<void>;
}

export async function startHealthEndpoint(host: string): Promise<HealthEndpoint> {
  const port = await freePort(host);
  let server: Server;
  const sockets = new Set<Socket>();
  const ep: HealthEndpoint = {
    url: `http://${host}:${port}/healthz`,
    mode: 'ok',
    hits: 0,
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

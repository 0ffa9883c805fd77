// The two clusters' health endpoints: `GET /healthz` → 200 on the active (127.0.0.2) and the
// passive (127.0.0.3), both on one port. One port, because gdnsd's http_status service type and
// PowerDNS's ifurlup probe every address on the same port (test/support/health-endpoint.ts gives
// each address its own). Every answered check is time-stamped, so the benchmark can place the
// kill at a known phase of the prober's schedule.
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { freePort } from '../../test/support/switchyard-process.ts';

export const ACTIVE = '127.0.0.2';
export const PASSIVE = '127.0.0.3';
export const HEALTH_PATH = '/healthz';

export interface HealthSide {
  address: string;
  /** When each check was answered (wall clock, ms). */
  hits: number[];
}

export interface HealthPair {
  port: number;
  active: HealthSide;
  passive: HealthSide;
  url(address: string): string;
  /**
   * The active dies: its listener is closed (new connections are refused) and its open
   * connections are destroyed, both synchronously. Returns the moment it was done.
   */
  killActive(): number;
  /** True when a TCP connection to the active's port is refused (the kill took). */
  activeRefuses(): Promise<boolean>;
  close(): Promise<void>;
}

interface Side extends HealthSide { server: Server; sockets: Set<Socket> }

function side(address: string, now: () => number): Side {
  const s: Side = { address, hits: [], sockets: new Set(), server: createServer() };
  s.server.on('request', (req, res) => {
    s.hits.push(now());
    const ok = req.url === HEALTH_PATH;
    res.writeHead(ok ? 200 : 404, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'not found\n');
  });
  s.server.on('connection', (sock: Socket) => { s.sockets.add(sock); sock.on('close', () => s.sockets.delete(sock)); });
  return s;
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
}

function shut(s: Side): Promise<void> {
  return new Promise((resolve) => {
    if (!s.server.listening) { for (const sock of s.sockets) sock.destroy(); resolve(); return; }
    s.server.close(() => resolve());
    for (const sock of s.sockets) sock.destroy();
  });
}

export async function startHealthPair(now: () => number): Promise<HealthPair> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await freePort(ACTIVE);
    const active = side(ACTIVE, now);
    const passive = side(PASSIVE, now);
    try {
      await listen(active.server, ACTIVE, port);
      await listen(passive.server, PASSIVE, port);
    } catch {
      await Promise.all([shut(active), shut(passive)]);
      continue;
    }
    let killedAt: number | null = null;
    return {
      port,
      active,
      passive,
      url: (address) => `http://${address}:${port}${HEALTH_PATH}`,
      killActive() {
        if (killedAt !== null) return killedAt;
        active.server.close();
        for (const sock of active.sockets) sock.destroy();
        killedAt = now();
        return killedAt;
      },
      activeRefuses: () => new Promise((resolve) => {
        const c = connect({ host: ACTIVE, port });
        c.once('connect', () => { c.destroy(); resolve(false); });
        c.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
      }),
      close: async () => { await Promise.all([shut(active), shut(passive)]); },
    };
  }
  throw new Error(`no port free on both ${ACTIVE} and ${PASSIVE} for the health endpoints after 20 attempts`);
}

// The clusters' health endpoint: `GET /healthz` → 200 on the primary and the secondary address,
// same port, so switchyard's probes and gdnsd's http_status monitor both see two healthy sides.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { PRIMARY, SECONDARY } from './zone.ts';

export interface HealthServer {
  port: number;
  path: string;
  /** Health checks answered so far (servers run one at a time, so a difference is one server's). */
  hits(): number;
  close(): Promise<void>;
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((res, rej) => {
    server.once('error', rej);
    server.listen(port, host, () => {
      server.off('error', rej);
      res((server.address() as { port: number }).port);
    });
  });
}

export async function startHealthServer(): Promise<HealthServer> {
  let hits = 0;
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    hits++;
    res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'text/plain', connection: 'close' });
    res.end(req.url === '/healthz' ? 'ok\n' : 'not found\n');
  };
  for (let attempt = 0; attempt < 20; attempt++) {
    const primary = createServer(handler);
    const secondary = createServer(handler);
    const port = await listen(primary, PRIMARY, 0);
    try {
      await listen(secondary, SECONDARY, port);
    } catch {
      await new Promise((r) => primary.close(r));
      continue;
    }
    return {
      port,
      path: '/healthz',
      hits: () => hits,
      close: async () => {
        primary.closeAllConnections();
        secondary.closeAllConnections();
        await Promise.all([new Promise((r) => primary.close(r)), new Promise((r) => secondary.close(r))]);
      },
    };
  }
  throw new Error(`no port free on both ${PRIMARY} and ${SECONDARY} for the health server`);
}

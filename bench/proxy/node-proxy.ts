// The near anchor of the proxy benchmark: the simplest Node program that does the job, a
// node:http server passing every request to one undici Pool (HTTP/1.1 keep-alive) with a
// dispatch handler, X-Forwarded-For added, the response streamed back. No routing, no header
// hygiene, no retries, no metrics, no timeouts of its own: what Node and undici allow per
// request. The gap between it and switchyard is switchyard's own cost.
//   PROXY_HOST=127.0.0.1 PROXY_PORT=N UPSTREAM=http://127.0.0.2:M node bench/proxy/node-proxy.ts
// REUSE_PORT=1 listens with reusePort (bench/support/in-workers.ts runs it in several worker threads).
import { createServer, type ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { Pool } from '../../src/undici-parts.ts';

const env = (name: string): string => {
  const v = process.env[name];
  if (v === undefined || v === '') throw new Error(`${name} is not set`);
  return v;
};

const pool = new Pool(env('UPSTREAM'), { allowH2: false, pipelining: 1 });

const handler = (res: ServerResponse): Dispatcher.DispatchHandler => ({
  onRequestStart() {},
  onResponseStart(_controller, statusCode, headers) {
    const flat: string[] = [];
    for (const name in headers) {
      if (name === 'connection' || name === 'keep-alive') continue;
      const v = headers[name];
      if (Array.isArray(v)) for (const x of v) flat.push(name, x);
      else if (v !== undefined) flat.push(name, v);
    }
    res.writeHead(statusCode, flat);
  },
  onResponseData(_controller, chunk) { res.write(chunk); },
  onResponseEnd() { res.end(); },
  onResponseError(_controller, err) { if (res.headersSent) res.destroy(err); else { res.statusCode = 502; res.end(); } },
});

const server = createServer({ keepAlive: true, noDelay: true }, (req, res) => {
  const raw = req.rawHeaders;
  const headers: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i].toLowerCase();
    if (n !== 'connection' && n !== 'keep-alive') headers.push(raw[i], raw[i + 1]);
  }
  headers.push('x-forwarded-for', req.socket.remoteAddress ?? '');
  pool.dispatch({ path: req.url ?? '/', method: req.method as Dispatcher.HttpMethod, headers, body: req.method === 'GET' || req.method === 'HEAD' ? null : req }, handler(res));
});
server.listen({ port: Number(env('PROXY_PORT')), host: env('PROXY_HOST'), reusePort: process.env.REUSE_PORT === '1' }, () => process.stdout.write(`ready ${env('PROXY_PORT')}\n`));
process.on('SIGTERM', () => { server.close(); void pool.close().then(() => process.exit(0)); server.closeAllConnections(); });

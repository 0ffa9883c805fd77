// A helper process that lives inside one site's network namespace (started through the site's
// `wrap`), so the test process, which stays in the host's namespace, can act from that site:
// serve the site's cluster health endpoint (a real HTTP server, test/support/health-endpoint.ts),
// ask an instance's DNS server with c-ares (node:dns Resolver, the same resolver library
// many clients use), send HTTP requests (/v1/status, /metrics, etcd's JSON gateway) and SQL.
// Protocol: one JSON request per stdin line `{ id, op, ... }`, one JSON answer per stdout line
// `{ id, ok, result | error }`. Every operation has its own timeout; the agent exits when stdin closes.
import { Resolver } from 'node:dns/promises';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { startHealthEndpoint, type HealthEndpoint, type HealthMode } from './health-endpoint.ts';

interface Request {
  id: number;
  op: 'health.start' | 'health.mode' | 'health.kill' | 'health.revive' | 'health.hits' | 'dig' | 'http' | 'sql';
  key?: string;
  host?: string;
  port?: number;
  mode?: HealthMode;
  server?: string;
  name?: string;
  url?: string;
  method?: string;
  body?: string;
  timeoutMs?: number;
  sql?: string;
}

const endpoints = new Map<string, HealthEndpoint>();

function endpoint(key: string | undefined): HealthEndpoint {
  const ep = endpoints.get(key ?? '');
  if (!ep) throw new Error(`no health endpoint named ${String(key)}`);
  return ep;
}

async function handle(req: Request): Promise<unknown> {
  switch (req.op) {
    case 'health.start': {
      const ep = await startHealthEndpoint(req.host!, req.port ? { port: req.port } : {});
      endpoints.set(req.key!, ep);
      return { url: ep.url, port: ep.port };
    }
    case 'health.mode': endpoint(req.key).mode = req.mode!; return null;
    case 'health.kill': await endpoint(req.key).kill(); return null;
    case 'health.revive': await endpoint(req.key).revive(); return null;
    case 'health.hits': return endpoint(req.key).hits;
    case 'dig': {
      const resolver = new Resolver({ timeout: req.timeoutMs ?? 1000, tries: 1 });
      resolver.setServers([`${req.server ?? '127.0.0.1'}:${req.port}`]);
      try {
        return await resolver.resolve4(req.name!, { ttl: true });
      } catch (err) {
        return { error: (err as NodeJS.ErrnoException).code ?? String(err) };
      }
    }
    case 'http': {
      const res = await fetch(req.url!, {
        method: req.method ?? 'GET',
        body: req.body,
        headers: req.body ? { 'content-type': 'application/json' } : undefined,
        signal: AbortSignal.timeout(req.timeoutMs ?? 3000),
      });
      return { status: res.status, text: await res.text() };
    }
    case 'sql': {
      const client = new pg.Client({ connectionString: req.url, connectionTimeoutMillis: req.timeoutMs ?? 3000 });
      client.on('error', () => { /* reported through the query */ });
      await client.connect();
      try { return (await client.query(req.sql!)).rows; } finally { await client.end().catch(() => undefined); }
    }
    default: throw new Error(`unknown op ${String(req.op)}`);
  }
}

const input = createInterface({ input: process.stdin });
input.on('line', (line) => {
  let req: Request;
  try { req = JSON.parse(line) as Request; } catch { return; }
  handle(req).then(
    (result) => process.stdout.write(`${JSON.stringify({ id: req.id, ok: true, result })}\n`),
    (err: unknown) => process.stdout.write(`${JSON.stringify({ id: req.id, ok: false, error: (err as Error).message ?? String(err) })}\n`),
  );
});
input.on('close', () => process.exit(0));
process.stdout.write(`${JSON.stringify({ id: 0, ok: true, result: 'ready' })}\n`);

// `switchyard demo`: two demo "clusters" on 127.0.0.2 and 127.0.0.3 and the edge in front of
// them (DNS, proxy, admin), in one process, so a newcomer sees a failover within a minute.
import { fs, http, util } from '../node-builtins.ts';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, parseDuration } from '../config/index.ts';
import { SwitchyardError, describeError } from '../errors.ts';
import { createLogger } from '../log.ts';
import { startSwitchyard } from '../main.ts';
import { requirePackage } from '../packages.ts';

const { parseArgs } = util;
const { pino } = requirePackage('pino') as typeof import('pino');
const { mkdtempSync, rmSync } = fs;
const { createServer } = http;

type Out = { out: (line: string) => void; err: (line: string) => void };

/**
 * The demo's failover cooldown. Production's default is 5m; in the demo a person fails east,
 * fails back and fails east again within a minute, and a long cooldown would hold that second
 * failover (README, Quick start).
 */
const DEMO_COOLDOWN = '5s';

export interface DemoCluster { name: string; address: string; failed: boolean; servers: Server[] }

const listen = (server: Server, port: number, host: string) => new Promise<void>((resolve, reject) => {
  server.once('error', (err) => reject(new SwitchyardError('SWY_LISTEN_FAILED', `demo cannot listen on ${host}:${port}: ${err.message}`)));
  server.listen(port, host, () => resolve());
});

export async function startCluster(name: string, address: string, ports: { app: number; health: number }): Promise<DemoCluster> {
  const c: DemoCluster = { name, address, failed: false, servers: [] };
  const app = createServer((req, res) => {
    if (c.failed) { res.writeHead(503, { 'content-type': 'text/plain' }).end(`${name} is down\n`); return; }
    res.writeHead(200, { 'content-type': 'text/plain', 'x-cluster': name }).end(`hello from ${name} (${address}) ${req.method} ${req.url}\n`);
  });
  const health = createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/fail') { c.failed = true; res.end(`${name}: failing its health checks now\n`); return; }
    if (req.method === 'POST' && req.url === '/recover') { c.failed = false; res.end(`${name}: healthy again\n`); return; }
    if (req.url === '/healthz') { res.writeHead(c.failed ? 503 : 200).end(c.failed ? 'down\n' : 'ok\n'); return; }
    res.writeHead(404).end('POST /fail, POST /recover, GET /healthz\n');
  });
  await listen(app, ports.app, address);
  await listen(health, ports.health, address);
  c.servers.push(app, health);
  return c;
}

export async function demo(args: string[], io: Out): Promise<number> {
  let values;
  try {
    values = parseArgs({ args, options: { instances: { type: 'string' }, 'exit-after': { type: 'string' }, 'dns-port': { type: 'string' }, 'proxy-port': { type: 'string' }, 'admin-port': { type: 'string' }, 'app-port': { type: 'string' }, 'health-port': { type: 'string' } }, strict: true }).values;
  } catch (err) {
    throw new SwitchyardError('SWY_CLI_USAGE', (err as Error).message);
  }
  const port = (v: string | undefined, d: number) => {
    const n = v === undefined ? d : Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new SwitchyardError('SWY_CLI_USAGE', `${v} is not a port`);
    return n;
  };
  const dnsPort = port(values['dns-port'], 5353);
  const proxyPort = port(values['proxy-port'], 8080);
  const adminPort = port(values['admin-port'], 9090);
  const appPort = port(values['app-port'], 8080);
  const healthPort = port(values['health-port'], 18081);
  const exitAfter = values['exit-after'] === undefined ? undefined : parseDuration(values['exit-after']);
  if (values['exit-after'] !== undefined && exitAfter === undefined) throw new SwitchyardError('SWY_CLI_USAGE', `--exit-after ${values['exit-after']} is not a duration`);
  if (values.instances !== undefined && values.instances !== '1') {
    if (values.instances !== '3') throw new SwitchyardError('SWY_CLI_USAGE', `--instances ${values.instances}: the demo runs 1 or 3 instances`);
    return (await import('./demo-instances.ts')).demoInstances({ instances: 3, path: process.env.PATH, exitAfter, dnsPort, adminPort, appPort, healthPort }, io);
  }

  const clusters = [await startCluster('east', '127.0.0.2', { app: appPort, health: healthPort }), await startCluster('west', '127.0.0.3', { app: appPort, health: healthPort })];
  const notifications = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      try {
        const e = JSON.parse(body) as { kind: string; from: string; to: string; epoch: number; reason: string };
        io.out(`  [webhook] notified: ${e.kind} ${e.from} → ${e.to} (epoch ${e.epoch}): ${e.reason}`);
      } catch { io.out(`  [webhook] notified: ${body.slice(0, 200)}`); }
      res.end('ok');
    });
  });
  await listen(notifications, 0, '127.0.0.1');
  const hookPort = (notifications.address() as { port: number }).port;
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-demo-'));

  const yaml = `
zone:
  name: example.com
  ttl: 5
  nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }]
hostnames: [app.example.com]
clusters:
${clusters.map((c) => `  - name: ${c.name}
    addresses: [${c.address}]
    upstream: http://${c.address}:${appPort}
    probes: [{ http: { url: "http://${c.address}:${healthPort}/healthz" } }]`).join('\n')}
health: { interval: 1s, timeout: 500ms, fall: 3, rise: 2 }
failover:
  automatic: true
  cooldown: ${DEMO_COOLDOWN}
  steps:
    - switch-traffic
    - webhook: { url: "http://127.0.0.1:${hookPort}/notify", secret: demo }
dns: { listen: ["127.0.0.1:${dnsPort}"] }
proxy: { listen: "127.0.0.1:${proxyPort}" }
admin: { listen: "127.0.0.1:${adminPort}" }
state: { file: ${JSON.stringify(join(dir, 'state.json'))} }
log: { level: warn }
`;
  const config = parseConfig(yaml, {}, dir);
  const logFile = join(dir, 'switchyard.log');
  const logger = createLogger({ level: 'info', destination: pino.destination({ dest: logFile, sync: false }) });
  let app;
  try {
    app = await startSwitchyard(config, { logger, env: {} });
  } catch (err) {
    for (const c of clusters) for (const s of c.servers) s.close();
    notifications.close();
    rmSync(dir, { recursive: true, force: true });
    io.err(`switchyard demo: ${describeError(err)} (is another demo or service using these ports? --dns-port/--proxy-port/--admin-port change them)`);
    return 1;
  }
  const admin = `http://127.0.0.1:${adminPort}`;
  io.out(`switchyard demo: app.example.com served by two clusters, east (127.0.0.2, preferred) and west (127.0.0.3).
  DNS   127.0.0.1:${dnsPort}     proxy http://127.0.0.1:${proxyPort}     status page ${admin}/
  config and state in ${dir} (log: ${logFile}; removed when the demo stops)
  failover cooldown ${DEMO_COOLDOWN} (production default 5m), so you can fail east again right after a failback

Try, in another terminal:
  dig @127.0.0.1 -p ${dnsPort} app.example.com +short          # 127.0.0.2: east is active
  curl -s http://127.0.0.1:${proxyPort}/                         # hello from east
  npx switchyard status
  curl -s -X POST http://127.0.0.2:${healthPort}/fail                    # east starts failing its health checks
  # within about 2 seconds: DNS answers 127.0.0.3, the proxy serves "hello from west", the webhook fires
  curl -s -X POST http://127.0.0.2:${healthPort}/recover                 # east is healthy again: no automatic failback
  npx switchyard failback                                       # the person decides to return to east
  npx switchyard drill                                          # a measured switchover with a timing report

Watching for transitions (Ctrl-C stops the demo):`);

  let last = '';
  const poll = setInterval(() => {
    fetch(`${admin}/v1/status`).then((r) => r.json() as Promise<{ active: string; state: string; reason: string }>).then((s) => {
      const line = `${s.active}/${s.state}`;
      if (line !== last) {
        last = line;
        io.out(`  [${new Date().toISOString().slice(11, 23)}] active: ${s.active}, state: ${s.state}: ${s.reason}`);
      }
    }).catch(() => {});
  }, 200);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      clearInterval(poll);
      io.out('switchyard demo: stopping');
      app.close().finally(() => {
        for (const c of clusters) for (const s of c.servers) s.close();
        notifications.close();
        logger.flush();
        rmSync(dir, { recursive: true, force: true });
        resolve(0);
      });
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (exitAfter !== undefined) setTimeout(stop, exitAfter).unref();
  });
}

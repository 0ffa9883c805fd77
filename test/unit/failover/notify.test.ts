// The notify list against a real HTTP receiver on 127.0.0.1 and real exec commands: retries with
// backoff, no retry on a 4xx, never blocking the caller, a bounded queue, the formats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import type { NotifyConfig } from '../../../src/config/index.ts';
import { createNotifier, MAX_QUEUED } from '../../../src/failover/notify.ts';
import { webhookSignature } from '../../../src/failover/steps/webhook.ts';
import { captureLogger } from '../../support/step-context.ts';

async function receiver(handle: (req: IncomingMessage, body: string, res: ServerResponse) => void) {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => handle(req, body, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

const webhook = (url: string, over: Partial<Extract<NotifyConfig, { type: 'webhook' }>> = {}): NotifyConfig =>
  ({ type: 'webhook', name: 'ops', url, secret: undefined, format: 'json', routingKey: undefined, headers: {}, timeout: 2000, retries: 3, backoff: 20, ...over });
const hold = { kind: 'hold' as const, severity: 'critical' as const, code: 'SWY_FAILOVER_HELD', summary: 'east is down; no healthy cluster to fail over to', cluster: 'east', epoch: 3 };

async function metric(registry: Registry, result: string): Promise<number> {
  const m = await registry.getSingleMetric('switchyard_notify_deliveries_total')!.get();
  return m.values.filter((v) => v.labels.result === result).reduce((sum, v) => sum + v.value, 0);
}

test('a failing receiver is retried with backoff until it answers; the body is signed json', async () => {
  const seen: Array<{ body: string; key: string; ts: string; sig: string; at: number }> = [];
  const r = await receiver((req, body, res) => {
    seen.push({ body, key: String(req.headers['idempotency-key']), ts: String(req.headers['x-switchyard-timestamp']), sig: String(req.headers['x-switchyard-signature']), at: Date.now() });
    res.writeHead(seen.length < 3 ? 503 : 200).end();
  });
  const registry = new Registry();
  const n = createNotifier({ notify: [webhook(r.url, { secret: 's3cret' })] }, { logger: captureLogger().logger, registry, env: {} });
  const t0 = Date.now();
  n.notify(hold);
  assert.ok(Date.now() - t0 < 50, 'notify returns at once');
  await n.idle();
  assert.equal(seen.length, 3);
  assert.equal(new Set(seen.map((s) => s.key)).size, 1, 'one idempotency key across retries');
  assert.ok(seen[2].at - seen[1].at >= 35, 'backoff doubles');
  const body = JSON.parse(seen[2].body);
  assert.deepEqual({ event: body.event, kind: body.kind, code: body.code, cluster: body.cluster, epoch: body.epoch }, { event: 'switchyard.notify', kind: 'hold', code: 'SWY_FAILOVER_HELD', cluster: 'east', epoch: 3 });
  assert.equal(seen[2].sig, webhookSignature('s3cret', seen[2].ts, seen[2].body));
  assert.equal(await metric(registry, 'delivered'), 1);
  await n.close();
  await r.close();
});

test('a 4xx is not retried; a receiver that never answers well ends as failed after its retries', async () => {
  let calls = 0;
  const r = await receiver((_req, _body, res) => { calls++; res.writeHead(calls === 1 ? 400 : 500).end(); });
  const registry = new Registry();
  const cap = captureLogger();
  const n = createNotifier({ notify: [webhook(r.url, { retries: 2 })] }, { logger: cap.logger, registry, env: {} });
  n.notify(hold);
  await n.idle();
  assert.equal(calls, 1, 'a 400 is not retried');
  n.notify({ ...hold, code: 'SWY_FAILOVER_PRECHECK_FAILED' });
  await n.idle();
  assert.equal(calls, 4, '1 + 2 retries');
  assert.equal(await metric(registry, 'failed'), 2);
  assert.ok(cap.lines.some((l) => /could not be delivered through ops after 3 attempt/.test(l.msg)));
  await n.close();
  await r.close();
});

test('a hanging receiver never blocks the caller, and the queue is bounded', async () => {
  const r = await receiver(() => { /* never answers */ });
  const registry = new Registry();
  const n = createNotifier({ notify: [webhook(r.url, { timeout: 60_000 })] }, { logger: captureLogger().logger, registry, env: {} });
  const t0 = Date.now();
  for (let i = 0; i < MAX_QUEUED + 20; i++) n.notify({ ...hold, epoch: i });
  assert.ok(Date.now() - t0 < 500, `${MAX_QUEUED + 20} notify calls took ${Date.now() - t0} ms`);
  assert.equal(await metric(registry, 'dropped'), 20);
  await n.close(50);
  assert.equal(await metric(registry, 'dropped'), 20 + MAX_QUEUED, 'shutdown abandons what is left, counted');
  await r.close();
});

test('slack and pagerduty formats; a store recovery resolves the store incident', async () => {
  const bodies: Array<Record<string, any>> = [];
  const r = await receiver((_req, body, res) => { bodies.push(JSON.parse(body)); res.end(); });
  const n = createNotifier({ notify: [webhook(r.url, { name: 'slack', format: 'slack' }), webhook(r.url, { name: 'pd', format: 'pagerduty', routingKey: 'RK' })] }, { logger: captureLogger().logger, registry: new Registry(), env: {} });
  n.notify({ kind: 'store-failure', severity: 'critical', code: 'SWY_STATE_WRITE', summary: 'cannot store the routing state: ENOSPC' });
  n.notify({ kind: 'store-recovered', severity: 'info', summary: 'written again' });
  await n.idle();
  const slack = bodies.filter((b) => 'blocks' in b);
  assert.match(slack[0].text, /^switchyard: state store failing: cannot store the routing state: ENOSPC$/);
  const pd = bodies.filter((b) => 'routing_key' in b);
  assert.deepEqual(pd.map((b) => [b.event_action, b.dedup_key]), [['trigger', 'switchyard:store'], ['resolve', 'switchyard:store']]);
  assert.equal(pd[0].payload.severity, 'critical');
  await n.close();
  await r.close();
});

test('an exec entry gets the event in its environment; a missing command fails without throwing at the caller', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'swy-notify-'));
  const out = join(dir, 'event.txt');
  const entries: NotifyConfig[] = [
    { type: 'exec', name: 'script', command: ['/bin/sh', '-c', `printf '%s|%s|%s' "$SWITCHYARD_NOTIFY_KIND" "$SWITCHYARD_NOTIFY_CODE" "$EXTRA" > ${out}`], env: { EXTRA: 'x' }, timeout: 5000, retries: 0, backoff: 0 },
    { type: 'exec', name: 'typo', command: ['/no/such/pager'], env: {}, timeout: 5000, retries: 1, backoff: 10 },
  ];
  const registry = new Registry();
  const n = createNotifier({ notify: entries }, { logger: captureLogger().logger, registry, env: { PATH: '/usr/bin:/bin' } });
  n.notify(hold);
  await n.idle();
  assert.equal(readFileSync(out, 'utf8'), 'hold|SWY_FAILOVER_HELD|x');
  assert.equal(await metric(registry, 'delivered'), 1);
  assert.equal(await metric(registry, 'failed'), 1);
  await n.close();
});

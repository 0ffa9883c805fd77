import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createWebhookStep, type WebhookConfig } from '../../../../src/failover/steps/webhook.ts';
import { isSwitchyardError } from '../../../../src/errors.ts';
import { captureLogger, stepContext } from '../../../support/step-context.ts';

interface Received { method: string; url: string; headers: IncomingMessage['headers']; body: string }

let server: Server;
let base = '';
let received: Received[] = [];
let respond: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => { res.writeHead(204).end(); };

before(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      respond(req, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

function reset(handler?: typeof respond): void {
  received = [];
  respond = handler ?? ((_req, res) => { res.writeHead(204).end(); });
}

function webhookConfig(over: Partial<WebhookConfig> = {}): WebhookConfig {
  return { type: 'webhook', name: 'notify', timeout: 5000, retries: 2, backoff: 1000, onFailure: 'continue', url: `${base}/hooks/T0KEN-SECRET`, secret: undefined, format: 'json', routingKey: undefined, headers: {}, ...over };
}

/** What a receiver does: recompute the HMAC over `${timestamp}.${raw body}` and compare in constant time. */
function verify(secret: string, r: Received): boolean {
  const ts = String(r.headers['x-switchyard-timestamp']);
  const sig = String(r.headers['x-switchyard-signature']);
  const want = Buffer.from(`sha256=${createHmac('sha256', secret).update(`${ts}.${r.body}`).digest('hex')}`);
  return sig.length === want.length && timingSafeEqual(Buffer.from(sig), want);
}

test('json: the event body, idempotency key, custom headers and a signature the receiver can verify', async () => {
  reset();
  const step = createWebhookStep(webhookConfig({ secret: 's3cret', headers: { authorization: 'Bearer abc', 'x-switchyard-signature': 'forged' } }));
  const log = captureLogger();
  const before = Math.floor(Date.now() / 1000);
  assert.deepEqual(await step.run(stepContext({ logger: log.logger, forced: true })), { detail: 'HTTP 204' });
  assert.equal(received.length, 1);
  const r = received[0];
  assert.equal(r.method, 'POST');
  assert.equal(r.url, '/hooks/T0KEN-SECRET');
  assert.equal(r.headers['content-type'], 'application/json');
  assert.equal(r.headers['idempotency-key'], 'switchyard:7:step');
  assert.equal(r.headers.authorization, 'Bearer abc');
  const ts = Number(r.headers['x-switchyard-timestamp']);
  assert.ok(ts >= before && ts <= before + 5, `timestamp ${ts}`);
  assert.ok(verify('s3cret', r), 'signature verifies');
  assert.ok(!verify('other', r), 'a wrong secret does not verify');
  assert.ok(!verify('s3cret', { ...r, body: r.body.replace('"epoch":7', '"epoch":8') }), 'a changed body does not verify');
  assert.ok(!verify('s3cret', { ...r, headers: { ...r.headers, 'x-switchyard-timestamp': String(ts - 600) } }), 'a changed timestamp does not verify');
  const body = JSON.parse(r.body);
  assert.deepEqual(Object.keys(body), ['event', 'kind', 'epoch', 'from', 'to', 'reason', 'forced', 'at', 'idempotencyKey']);
  assert.deepEqual({ ...body, at: undefined }, { event: 'switchyard.transition', kind: 'failover', epoch: 7, from: 'east', to: 'west', reason: 'east: 3/3 probes failed', forced: true, at: undefined, idempotencyKey: 'switchyard:7:step' });
  assert.equal(new Date(body.at).getTime() / 1000 | 0, ts);
  const line = log.lines.find((l) => /delivered/.test(l.msg));
  assert.equal(line?.url, base, 'only the origin is logged, never the secret path');
  assert.ok(!JSON.stringify(log.lines).includes('T0KEN-SECRET'));
});

test('without a secret there is no signature header', async () => {
  reset();
  await createWebhookStep(webhookConfig()).run(stepContext({ logger: captureLogger().logger }));
  assert.equal(received[0].headers['x-switchyard-signature'], undefined);
  assert.ok(received[0].headers['x-switchyard-timestamp']);
});

test('slack: an incoming-webhook payload with text and blocks, escaped', async () => {
  reset();
  await createWebhookStep(webhookConfig({ format: 'slack' })).run(stepContext({ logger: captureLogger().logger, reason: 'probe <east> failed & more' }));
  const body = JSON.parse(received[0].body);
  assert.deepEqual(Object.keys(body), ['text', 'blocks']);
  assert.equal(body.text, 'switchyard failover: east → west, epoch 7: probe <east> failed & more');
  assert.deepEqual(body.blocks.map((b: any) => b.type), ['header', 'section', 'section', 'context']);
  assert.deepEqual(body.blocks[0].text, { type: 'plain_text', text: 'switchyard failover: east → west' });
  assert.equal(body.blocks[1].text.text, '*Reason:* probe &lt;east&gt; failed &amp; more');
  assert.deepEqual(body.blocks[2].fields.map((f: any) => f.text), ['*From:*\neast', '*To:*\nwest', '*Epoch:*\n7', '*Forced:*\nno']);
});

test('pagerduty: an Events API v2 trigger deduplicated on the idempotency key', async () => {
  reset((_req, res) => { res.writeHead(202, { 'content-type': 'application/json' }).end('{"status":"success","dedup_key":"switchyard:7:step"}'); });
  const out = await createWebhookStep(webhookConfig({ format: 'pagerduty', routingKey: 'R0UTING' })).run(stepContext({ logger: captureLogger().logger }));
  assert.deepEqual(out, { detail: 'HTTP 202' });
  const body = JSON.parse(received[0].body);
  assert.deepEqual(Object.keys(body), ['routing_key', 'event_action', 'dedup_key', 'payload']);
  assert.equal(body.routing_key, 'R0UTING');
  assert.equal(body.event_action, 'trigger');
  assert.equal(body.dedup_key, 'switchyard:7:step');
  assert.equal(body.payload.summary, 'switchyard failover: east → west: east: 3/3 probes failed');
  assert.equal(body.payload.source, 'switchyard');
  assert.equal(body.payload.severity, 'critical');
  assert.ok(!Number.isNaN(Date.parse(body.payload.timestamp)));
  assert.deepEqual(body.payload.custom_details, { kind: 'failover', epoch: 7, from: 'east', to: 'west', reason: 'east: 3/3 probes failed', forced: false, idempotencyKey: 'switchyard:7:step' });
  assert.throws(() => createWebhookStep(webhookConfig({ format: 'pagerduty' })), (err) => isSwitchyardError(err, 'SWY_CONFIG_INVALID'));
});

test('non-2xx is SWY_FAILOVER_WEBHOOK_FAILED with the status; retryable only for 5xx, 408 and 429', async () => {
  const table: [number, boolean][] = [[500, true], [503, true], [408, true], [429, true], [400, false], [401, false], [404, false], [301, false]];
  for (const [status, retryable] of table) {
    reset((_req, res) => { res.writeHead(status, { 'content-type': 'text/plain' }).end(`nope ${status}`); });
    await assert.rejects(createWebhookStep(webhookConfig()).run(stepContext({ logger: captureLogger().logger })), (err) =>
      isSwitchyardError(err, 'SWY_FAILOVER_WEBHOOK_FAILED') && err.details?.status === status && err.details?.retryable === retryable
      && err.details?.body === `nope ${status}` && err.message.includes(`HTTP ${status}`), `status ${status}`);
  }
});

test('a refused connection is a retryable SWY_FAILOVER_WEBHOOK_FAILED', async () => {
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as { port: number }).port;
  await new Promise((r) => closed.close(r));
  await assert.rejects(createWebhookStep(webhookConfig({ url: `http://127.0.0.1:${port}/x` })).run(stepContext({ logger: captureLogger().logger })), (err) =>
    isSwitchyardError(err, 'SWY_FAILOVER_WEBHOOK_FAILED') && err.details?.retryable === true && /ECONNREFUSED/.test(err.message));
});

test('abort while the receiver hangs rejects with the signal reason', async () => {
  reset(() => { /* never answers */ });
  const controller = new AbortController();
  const reason = new Error('step timeout');
  setTimeout(() => controller.abort(reason), 100);
  const started = Date.now();
  await assert.rejects(createWebhookStep(webhookConfig()).run(stepContext({ logger: captureLogger().logger, signal: controller.signal })), (err) => err === reason);
  assert.ok(Date.now() - started < 2000);
});

test('the webhook URL\'s path and query string reach the receiver as configured (a fragment never does)', async () => {
  reset();
  await createWebhookStep(webhookConfig({ url: `${base}/services/T0KEN?channel=ops&x=a%20b#frag` })).run(stepContext({ logger: captureLogger().logger }));
  assert.deepEqual(received.map((r) => [r.method, r.url]), [['POST', '/services/T0KEN?channel=ops&x=a%20b']]);
});

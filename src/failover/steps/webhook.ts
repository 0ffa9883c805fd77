// webhook: a JSON POST about the move, in switchyard's own shape (format json) or as a Slack
// incoming-webhook message or a PagerDuty Events API v2 trigger.
//
// Headers: content-type: application/json; idempotency-key: ctx.idempotencyKey (the same on
// every retry and after a restart); x-switchyard-timestamp: unix seconds; and, with a secret,
// x-switchyard-signature: sha256=<hex HMAC-SHA256 of `${timestamp}.${body}`>. Signing the
// timestamp with the body lets a receiver refuse replays older than a few minutes.
//
// Any non-2xx answer throws SWY_FAILOVER_WEBHOOK_FAILED with `status`; `retryable` in the
// details is false for 3xx (redirects are not followed) and 4xx other than 408 and 429 (the
// request itself is wrong: retrying the same body cannot help), true for the rest and for
// network errors. The controller does the retries. Only the URL's
// origin is logged: Slack-style URLs carry their secret in the path.
import { crypto } from '../../node-builtins.ts';
import type { Dispatcher } from 'undici';
import type { StepConfig } from '../../config/index.ts';
import type { Logger } from '../../log.ts';
import { SwitchyardError, describeError } from '../../errors.ts';
import { Agent, request } from '../../undici-parts.ts';
import type { Step, StepContext, StepOutcome } from '../step.ts';

const { createHmac } = crypto;

export type WebhookConfig = Extract<StepConfig, { type: 'webhook' }>;

export interface WebhookDeps {
  /** undici dispatcher for the request; one agent shared by every webhook when absent. */
  dispatcher?: Dispatcher;
}

export interface TransitionEvent {
  event: 'switchyard.transition';
  kind: StepContext['kind'];
  epoch: number;
  from: string;
  to: string;
  reason: string;
  forced: boolean;
  at: string;
  idempotencyKey: string;
}

const ERROR_BODY_LIMIT = 2048;

export function transitionEvent(ctx: StepContext, at: Date): TransitionEvent {
  return { event: 'switchyard.transition', kind: ctx.kind, epoch: ctx.epoch, from: ctx.source.name, to: ctx.target.name, reason: ctx.reason, forced: ctx.forced, at: at.toISOString(), idempotencyKey: ctx.idempotencyKey };
}

/**
 * What a webhook says, independent of its format: the failover step's transition event and the
 * notify list's events are both rendered through this, so the three formats stay one code path.
 */
export interface WebhookMessage {
  /** The `json` format body, sent as is. */
  json: unknown;
  /** One line: the Slack header and the start of the PagerDuty summary. */
  headline: string;
  /** The Slack message's `text` (shown in notifications). */
  text: string;
  /** The Slack section under the header. */
  section: string;
  /** Slack fields (label, value). */
  fields: Array<[string, string]>;
  at: string;
  /** Slack context and PagerDuty dedup_key. */
  key: string;
  severity: 'critical' | 'warning' | 'info';
  /** PagerDuty: trigger an incident, or resolve the one with the same key. */
  action: 'trigger' | 'resolve';
  component: string;
  details: Record<string, unknown>;
}

function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function headline(e: TransitionEvent): string {
  return `switchyard ${e.kind}: ${e.from} → ${e.to}${e.forced ? ' (forced)' : ''}`;
}

/** The transition event of a failover step as a message. */
export function transitionMessage(e: TransitionEvent): WebhookMessage {
  return {
    json: e,
    headline: headline(e),
    text: `${headline(e)}, epoch ${e.epoch}: ${e.reason}`,
    section: `*Reason:* ${slackEscape(e.reason)}`,
    fields: [['From', e.from], ['To', e.to], ['Epoch', String(e.epoch)], ['Forced', e.forced ? 'yes' : 'no']],
    at: e.at,
    key: e.idempotencyKey,
    severity: 'critical',
    action: 'trigger',
    component: e.to,
    details: { kind: e.kind, epoch: e.epoch, from: e.from, to: e.to, reason: e.reason, forced: e.forced, idempotencyKey: e.idempotencyKey },
  };
}

/** The request body of a message in a format, as sent (and signed). */
export function renderWebhookBody(format: WebhookConfig['format'], m: WebhookMessage, routingKey: string | undefined): string {
  if (format === 'slack') {
    return JSON.stringify({
      text: m.text,
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: clip(m.headline, 150) } },
        { type: 'section', text: { type: 'mrkdwn', text: clip(m.section, 3000) } },
        { type: 'section', fields: m.fields.map(([k, v]) => ({ type: 'mrkdwn', text: `*${k}:*\n${slackEscape(v)}` })) },
        { type: 'context', elements: [{ type: 'mrkdwn', text: `${m.at} · ${slackEscape(m.key)}` }] },
      ],
    });
  }
  if (format === 'pagerduty') {
    if (m.action === 'resolve') return JSON.stringify({ routing_key: routingKey, event_action: 'resolve', dedup_key: m.key });
    return JSON.stringify({
      routing_key: routingKey,
      event_action: 'trigger',
      dedup_key: m.key,
      payload: {
        summary: clip(m.text === m.headline ? m.headline : `${m.headline}: ${(m.details.reason as string | undefined) ?? m.text}`, 1024),
        source: 'switchyard',
        severity: m.severity,
        timestamp: m.at,
        component: m.component,
        custom_details: m.details,
      },
    });
  }
  return JSON.stringify(m.json);
}

/** The request body for a format, as sent (and signed). */
export function webhookBody(format: WebhookConfig['format'], e: TransitionEvent, routingKey: string | undefined): string {
  return renderWebhookBody(format, transitionMessage(e), routingKey);
}

/** `sha256=<hex>` over `${timestamp}.${body}`: what a receiver recomputes to check x-switchyard-signature. */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export function urlOrigin(url: string): string {
  try { return new URL(url).origin; } catch { return '(unparsable url)'; }
}

async function readSnippet(body: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= ERROR_BODY_LIMIT) { body.destroy(); break; }
  }
  return Buffer.concat(chunks).subarray(0, ERROR_BODY_LIMIT).toString('utf8');
}

/** Where and how to POST: the parts of a webhook step or notify entry that sending needs. */
export interface WebhookTarget { name: string; url: string; secret: string | undefined; headers: Record<string, string>; timeout: number }

let sharedAgent: Agent | undefined;
/** The agent webhooks share when no dispatcher is given (what undici's global dispatcher would be). */
const webhookAgent = (): Agent => (sharedAgent ??= new Agent());

/**
 * POSTs a body with switchyard's headers (idempotency key, timestamp, signature). Resolves with the
 * status on 2xx; otherwise throws SWY_FAILOVER_WEBHOOK_FAILED with `status` and `retryable`.
 * `what` names the sender in messages ("webhook notify-ops", "notify webhook ops").
 */
export async function postWebhook(target: WebhookTarget, body: string, idempotencyKey: string, io: { signal: AbortSignal; logger: Logger; dispatcher?: Dispatcher; what: string; format: string }): Promise<number> {
  io.signal.throwIfAborted();
  const where = urlOrigin(target.url);
  const timestamp = String(Math.floor(Date.now() / 1000));
  const headers: Record<string, string> = {
    ...target.headers,
    'content-type': 'application/json',
    'user-agent': 'switchyard',
    'idempotency-key': idempotencyKey,
    'x-switchyard-timestamp': timestamp,
  };
  if (target.secret !== undefined) headers['x-switchyard-signature'] = webhookSignature(target.secret, timestamp, body);
  const started = Date.now();
  let res: Dispatcher.ResponseData;
  try {
    // undici's agent and request API (src/undici-parts.ts), not its index: the index loads fetch,
    // WebSocket, the caches and the mocks, and imported as an ES module Node's CommonJS lexer too.
    const u = new URL(target.url);
    res = await request(io.dispatcher ?? webhookAgent(), {
      origin: u.origin, path: `${u.pathname}${u.search}`,
      method: 'POST', body, headers, signal: io.signal,
      headersTimeout: target.timeout, bodyTimeout: target.timeout,
    });
  } catch (err) {
    io.signal.throwIfAborted();
    io.logger.warn({ url: where, err: describeError(err) }, `${io.what} to ${where} failed: ${describeError(err)}`);
    throw new SwitchyardError('SWY_FAILOVER_WEBHOOK_FAILED', `${io.what} to ${where} failed: ${describeError(err)}`, { url: where, retryable: true }, { cause: err });
  }
  const status = res.statusCode;
  if (status >= 200 && status < 300) {
    await res.body.dump().catch(() => undefined);
    io.logger.info({ url: where, status, format: io.format, durationMs: Date.now() - started }, `${io.what} delivered to ${where} (${status})`);
    return status;
  }
  const snippet = await readSnippet(res.body).catch(() => '');
  const retryable = status >= 500 || status === 408 || status === 429;
  io.logger.warn({ url: where, status, retryable, body: snippet }, `${io.what} to ${where} answered ${status}`);
  throw new SwitchyardError('SWY_FAILOVER_WEBHOOK_FAILED', `${io.what} to ${where} answered HTTP ${status}`, { url: where, status, retryable, body: snippet });
}

export function createWebhookStep(config: WebhookConfig, deps: WebhookDeps = {}): Step {
  if (config.format === 'pagerduty' && !config.routingKey) {
    throw new SwitchyardError('SWY_CONFIG_INVALID', `webhook step ${config.name}: format pagerduty needs a routingKey`, { step: config.name });
  }

  async function run(ctx: StepContext): Promise<StepOutcome> {
    ctx.signal.throwIfAborted();
    const body = webhookBody(config.format, transitionEvent(ctx, new Date()), config.routingKey);
    const status = await postWebhook(config, body, ctx.idempotencyKey, { signal: ctx.signal, logger: ctx.logger, dispatcher: deps.dispatcher, what: `webhook ${config.name}`, format: config.format });
    return { detail: `HTTP ${status}` };
  }

  return { config, run };
}

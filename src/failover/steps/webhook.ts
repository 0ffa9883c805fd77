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
import { createHmac } from 'node:crypto';
import type { Dispatcher } from 'undici';
import type { StepConfig } from '../../config/index.ts';
import { SwitchyardError, describeError } from '../../errors.ts';
import type { Step, StepContext, StepOutcome } from '../step.ts';

export type WebhookConfig = Extract<StepConfig, { type: 'webhook' }>;

export interface WebhookDeps {
  /** undici dispatcher for the request; the global one when absent. */
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

function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function headline(e: TransitionEvent): string {
  return `switchyard ${e.kind}: ${e.from} → ${e.to}${e.forced ? ' (forced)' : ''}`;
}

/** The request body for a format, as sent (and signed). */
export function webhookBody(format: WebhookConfig['format'], e: TransitionEvent, routingKey: string | undefined): string {
  if (format === 'slack') {
    return JSON.stringify({
      text: `${headline(e)}, epoch ${e.epoch}: ${e.reason}`,
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: clip(headline(e), 150) } },
        { type: 'section', text: { type: 'mrkdwn', text: clip(`*Reason:* ${slackEscape(e.reason)}`, 3000) } },
        {
          type: 'section',
          fields: [
            { type: 'mrkdwn', text: `*From:*\n${slackEscape(e.from)}` },
            { type: 'mrkdwn', text: `*To:*\n${slackEscape(e.to)}` },
            { type: 'mrkdwn', text: `*Epoch:*\n${e.epoch}` },
            { type: 'mrkdwn', text: `*Forced:*\n${e.forced ? 'yes' : 'no'}` },
          ],
        },
        { type: 'context', elements: [{ type: 'mrkdwn', text: `${e.at} · ${slackEscape(e.idempotencyKey)}` }] },
      ],
    });
  }
  if (format === 'pagerduty') {
    return JSON.stringify({
      routing_key: routingKey,
      event_action: 'trigger',
      dedup_key: e.idempotencyKey,
      payload: {
        summary: clip(`${headline(e)}: ${e.reason}`, 1024),
        source: 'switchyard',
        severity: 'critical',
        timestamp: e.at,
        component: e.to,
        custom_details: { kind: e.kind, epoch: e.epoch, from: e.from, to: e.to, reason: e.reason, forced: e.forced, idempotencyKey: e.idempotencyKey },
      },
    });
  }
  return JSON.stringify(e);
}

/** `sha256=<hex>` over `${timestamp}.${body}`: what a receiver recomputes to check x-switchyard-signature. */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

function origin(url: string): string {
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

export function createWebhookStep(config: WebhookConfig, deps: WebhookDeps = {}): Step {
  if (config.format === 'pagerduty' && !config.routingKey) {
    throw new SwitchyardError('SWY_CONFIG_INVALID', `webhook step ${config.name}: format pagerduty needs a routingKey`, { step: config.name });
  }
  const where = origin(config.url);

  async function run(ctx: StepContext): Promise<StepOutcome> {
    ctx.signal.throwIfAborted();
    const now = new Date();
    const timestamp = String(Math.floor(now.getTime() / 1000));
    const body = webhookBody(config.format, transitionEvent(ctx, now), config.routingKey);
    const headers: Record<string, string> = {
      ...config.headers,
      'content-type': 'application/json',
      'user-agent': 'switchyard',
      'idempotency-key': ctx.idempotencyKey,
      'x-switchyard-timestamp': timestamp,
    };
    if (config.secret !== undefined) headers['x-switchyard-signature'] = webhookSignature(config.secret, timestamp, body);
    const started = Date.now();
    let res: Dispatcher.ResponseData;
    try {
      // undici's index (with its global dispatcher) is loaded on the first webhook, not at start.
      const { request } = await import('undici');
      res = await request(config.url, {
        method: 'POST', body, headers, dispatcher: deps.dispatcher, signal: ctx.signal,
        headersTimeout: config.timeout, bodyTimeout: config.timeout,
      });
    } catch (err) {
      ctx.signal.throwIfAborted();
      ctx.logger.warn({ url: where, err: describeError(err) }, `webhook ${config.name} to ${where} failed: ${describeError(err)}`);
      throw new SwitchyardError('SWY_FAILOVER_WEBHOOK_FAILED', `webhook ${config.name} to ${where} failed: ${describeError(err)}`, { url: where, retryable: true }, { cause: err });
    }
    const status = res.statusCode;
    if (status >= 200 && status < 300) {
      await res.body.dump().catch(() => undefined);
      ctx.logger.info({ url: where, status, format: config.format, durationMs: Date.now() - started }, `webhook ${config.name} delivered to ${where} (${status})`);
      return { detail: `HTTP ${status}` };
    }
    const snippet = await readSnippet(res.body).catch(() => '');
    const retryable = status >= 500 || status === 408 || status === 429;
    ctx.logger.warn({ url: where, status, retryable, body: snippet }, `webhook ${config.name} to ${where} answered ${status}`);
    throw new SwitchyardError('SWY_FAILOVER_WEBHOOK_FAILED', `webhook ${config.name} to ${where} answered HTTP ${status}`, { url: where, status, retryable, body: snippet });
  }

  return { config, run };
}

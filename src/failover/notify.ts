// The `notify` list: tells people about holds, completed moves, an unfenced old primary and
// state-store failures, through webhooks (json, slack, pagerduty: the failover webhook step's
// formats and signing) and exec commands. notify() returns at once: each entry has its own
// queue (bounded, oldest dropped first when full), each delivery is retried with exponential
// backoff up to the entry's `retries`, and nothing a receiver does can delay or stop the caller.
import { Counter, Gauge, type Registry } from '../prom-client-parts.ts';
import type { Dispatcher } from 'undici';
import type { NotifyConfig } from '../config/index.ts';
import { describeError, isSwitchyardError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Notifier, NotifyEvent } from './notifier.ts';
import { INHERITED_ENV, runProcess } from './steps/exec.ts';
import { postWebhook, renderWebhookBody, type WebhookMessage } from './steps/webhook.ts';

export interface NotifyService extends Notifier {
  /** Resolves when every queue is empty (tests, and shutdown's grace). */
  idle(): Promise<void>;
  /** Gives queued deliveries up to `graceMs` (default 2 s), then abandons the rest (logged). */
  close(graceMs?: number): Promise<void>;
}

export interface NotifyDeps {
  logger: Logger;
  registry: Registry;
  /** The environment exec entries start from (the composition root passes the process environment); only INHERITED_ENV of it reaches them. */
  env: Readonly<Record<string, string | undefined>>;
  /** Applied to exec entries' output before it is logged. */
  redact?: (text: string) => string;
  dispatcher?: Dispatcher;
  /** Instance name, in messages and the json body. */
  instance?: string;
  now?: () => Date;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** SIGTERM to SIGKILL for exec entries that time out; 5 s by default. */
  killGraceMs?: number;
}

/** Events queued per entry beyond this drop the oldest: a dead receiver cannot grow memory. */
export const MAX_QUEUED = 100;
const MAX_BACKOFF_MS = 60_000;

const abortableSleep = (ms: number, signal: AbortSignal) => new Promise<void>((resolve, reject) => {
  if (signal.aborted) { reject(signal.reason); return; }
  const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(); }, ms);
  const onAbort = () => { clearTimeout(t); reject(signal.reason); };
  signal.addEventListener('abort', onAbort, { once: true });
});

/** The body switchyard sends in the `json` format. */
export interface NotifyPayload extends NotifyEvent {
  event: 'switchyard.notify';
  at: string;
  idempotencyKey: string;
  instance?: string;
}

/** PagerDuty-style incident key: a store failure and its recovery (an unfenced source and its fencing) share one. */
export function incidentKey(e: NotifyEvent): string {
  if (e.kind === 'store-failure' || e.kind === 'store-recovered') return 'switchyard:store';
  if (e.kind === 'unfenced' || e.kind === 'fenced') return `switchyard:unfenced:${e.cluster ?? ''}:${e.epoch ?? 0}`;
  return `switchyard:${e.kind}:${e.epoch ?? 0}`;
}

const TITLES: Record<NotifyEvent['kind'], string> = {
  hold: 'failover held',
  completed: 'move completed',
  unfenced: 'old primary NOT fenced',
  fenced: 'old primary fenced',
  'store-failure': 'state store failing',
  'store-recovered': 'state store recovered',
};

export function notifyMessage(p: NotifyPayload): WebhookMessage {
  const headline = `switchyard: ${TITLES[p.kind]}${p.cluster ? ` (${p.cluster})` : ''}`;
  const fields: Array<[string, string]> = [['Severity', p.severity]];
  if (p.code) fields.push(['Code', p.code]);
  if (p.cluster) fields.push(['Cluster', p.cluster]);
  if (p.epoch !== undefined) fields.push(['Epoch', String(p.epoch)]);
  return {
    json: p,
    headline,
    text: `${headline}: ${p.summary}`,
    section: p.summary.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'),
    fields,
    at: p.at,
    key: incidentKey(p),
    severity: p.severity,
    action: p.kind === 'store-recovered' || p.kind === 'fenced' ? 'resolve' : 'trigger',
    component: p.cluster ?? 'switchyard',
    details: { kind: p.kind, code: p.code, cluster: p.cluster, epoch: p.epoch, reason: p.summary, instance: p.instance, ...p.details },
  };
}

/** The environment of an exec entry: INHERITED_ENV from base (as for exec steps: never the admin token or database URLs), then its `env`, then SWITCHYARD_NOTIFY_* (which win). */
export function notifyEnvironment(entry: Extract<NotifyConfig, { type: 'exec' }>, p: NotifyPayload, base: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of INHERITED_ENV) { const v = base[k]; if (v !== undefined) env[k] = v; }
  Object.assign(env, entry.env, {
    SWITCHYARD_NOTIFY_KIND: p.kind,
    SWITCHYARD_NOTIFY_SEVERITY: p.severity,
    SWITCHYARD_NOTIFY_SUMMARY: p.summary,
    SWITCHYARD_NOTIFY_CODE: p.code ?? '',
    SWITCHYARD_NOTIFY_CLUSTER: p.cluster ?? '',
    SWITCHYARD_NOTIFY_EPOCH: p.epoch === undefined ? '' : String(p.epoch),
    SWITCHYARD_NOTIFY_EVENT: JSON.stringify(p),
    SWITCHYARD_IDEMPOTENCY_KEY: p.idempotencyKey,
  });
  return env;
}

export function createNotifier(options: { notify: readonly NotifyConfig[] }, deps: NotifyDeps): NotifyService {
  const log = deps.logger.child({ module: 'notify' });
  const now = deps.now ?? (() => new Date());
  const sleep = deps.sleep ?? abortableSleep;
  const killGraceMs = deps.killGraceMs ?? 5000;
  const shutdown = new AbortController();
  const deliveries = new Counter({ name: 'switchyard_notify_deliveries_total', help: 'Notifications by notify entry and result: delivered, failed (after every retry), dropped (queue full or shutdown)', labelNames: ['name', 'result'], registers: [deps.registry] });
  const queuedGauge = new Gauge({ name: 'switchyard_notify_queued', help: 'Notifications waiting or being delivered, per notify entry', labelNames: ['name'], registers: [deps.registry] });
  let seq = 0;

  interface Lane { entry: NotifyConfig; queue: NotifyPayload[]; running: Promise<void> | null }
  const lanes: Lane[] = options.notify.map((entry) => {
    deliveries.labels(entry.name, 'delivered').inc(0);
    deliveries.labels(entry.name, 'failed').inc(0);
    queuedGauge.labels(entry.name).set(0);
    return { entry, queue: [], running: null };
  });

  async function attempt(entry: NotifyConfig, p: NotifyPayload, n: number): Promise<void> {
    const signal = AbortSignal.any([shutdown.signal, AbortSignal.timeout(entry.timeout + 1000)]);
    const logger = log.child({ notify: entry.name, kind: p.kind, attempt: n });
    if (entry.type === 'webhook') {
      const body = renderWebhookBody(entry.format, notifyMessage(p), entry.routingKey);
      await postWebhook(entry, body, p.idempotencyKey, { signal, logger, dispatcher: deps.dispatcher, what: `notify webhook ${entry.name}`, format: entry.format });
      return;
    }
    await runProcess({ what: `notify exec ${entry.name}`, command: entry.command, env: notifyEnvironment(entry, p, deps.env), timeout: entry.timeout, killGraceMs }, { signal, logger, redact: deps.redact });
  }

  async function deliver(lane: Lane, p: NotifyPayload): Promise<void> {
    const { entry } = lane;
    const max = entry.retries + 1;
    for (let n = 1; ; n++) {
      try {
        await attempt(entry, p, n);
        deliveries.labels(entry.name, 'delivered').inc();
        log.info({ notify: entry.name, kind: p.kind, attempt: n }, `notification ${p.kind} delivered through ${entry.name}`);
        return;
      } catch (err) {
        if (shutdown.signal.aborted) throw err;
        const retryable = !(isSwitchyardError(err) && err.details?.retryable === false);
        if (!retryable || n >= max) {
          deliveries.labels(entry.name, 'failed').inc();
          log.error({ notify: entry.name, kind: p.kind, attempts: n, err: describeError(err), summary: p.summary }, `notification ${p.kind} could not be delivered through ${entry.name} after ${n} attempt(s): ${describeError(err)}`);
          return;
        }
        const wait = Math.min(entry.backoff * 2 ** (n - 1), MAX_BACKOFF_MS);
        log.warn({ notify: entry.name, kind: p.kind, attempt: n, retryInMs: wait, err: describeError(err) }, `notification ${p.kind} through ${entry.name} failed (attempt ${n}/${max}); retrying`);
        await sleep(wait, shutdown.signal);
      }
    }
  }

  function pump(lane: Lane): void {
    if (lane.running || lane.queue.length === 0) return;
    lane.running = (async () => {
      try {
        while (lane.queue.length > 0 && !shutdown.signal.aborted) {
          await deliver(lane, lane.queue[0]);
          lane.queue.shift();
          queuedGauge.labels(lane.entry.name).set(lane.queue.length);
        }
      } catch {
        // shutdown: close() counts what is left
      } finally {
        lane.running = null;
      }
    })();
  }

  const idle = async () => {
    while (lanes.some((l) => l.running)) await Promise.all(lanes.map((l) => l.running));
  };

  return {
    notify(event) {
      try {
        const at = now();
        const payload: NotifyPayload = { ...event, event: 'switchyard.notify', at: at.toISOString(), idempotencyKey: `switchyard:notify:${at.getTime()}:${++seq}:${event.kind}`, ...(deps.instance ? { instance: deps.instance } : {}) };
        const level = event.severity === 'critical' ? 'error' : event.severity === 'warning' ? 'warn' : 'info';
        log[level]({ kind: event.kind, code: event.code, cluster: event.cluster, epoch: event.epoch, entries: lanes.length }, `notify ${event.kind}: ${event.summary}`);
        if (shutdown.signal.aborted) return;
        for (const lane of lanes) {
          if (lane.queue.length >= MAX_QUEUED) {
            // The head is being delivered; drop the oldest waiting one.
            const dropped = lane.queue.splice(1, 1)[0];
            deliveries.labels(lane.entry.name, 'dropped').inc();
            log.error({ notify: lane.entry.name, kind: dropped?.kind }, `notify ${lane.entry.name}: ${MAX_QUEUED} notifications queued; dropped the oldest waiting one (${dropped?.kind})`);
          }
          lane.queue.push(payload);
          queuedGauge.labels(lane.entry.name).set(lane.queue.length);
          pump(lane);
        }
      } catch (err) {
        log.error({ err }, `notify failed: ${describeError(err)}`);
      }
    },
    idle,
    async close(graceMs = 2000) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([idle(), new Promise<void>((r) => { timer = setTimeout(r, graceMs); })]);
      clearTimeout(timer);
      shutdown.abort(new Error('switchyard is shutting down'));
      await Promise.all(lanes.map((l) => l.running));
      for (const lane of lanes) {
        if (lane.queue.length === 0) continue;
        deliveries.labels(lane.entry.name, 'dropped').inc(lane.queue.length);
        log.error({ notify: lane.entry.name, kinds: lane.queue.map((p) => p.kind) }, `shutting down with ${lane.queue.length} notification(s) undelivered through ${lane.entry.name}`);
        lane.queue.length = 0;
      }
    },
  };
}

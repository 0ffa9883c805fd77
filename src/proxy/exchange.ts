// What the HTTP and the Upgrade exchanges share: the request as it goes upstream, dispatching it
// (again, on a retry), the request-start bookkeeping, response counting and the retry decision.
import type { IncomingMessage } from 'node:http';
import type { Dispatcher } from 'undici';
import type { ProxyContext } from './context.ts';
import type { UpstreamFailure } from './decide.ts';
import type { UpstreamHeaders } from './headers.ts';
import type { Upstream } from './upstream.ts';

export class ClientGoneError extends Error {
  constructor() {
    super('the client closed the connection');
    this.name = 'ClientGoneError';
  }
}

export class Exchange {
  readonly ctx: ProxyContext;
  readonly req: IncomingMessage;
  readonly path: string;
  readonly headers: string[];
  readonly host: string;
  /** The request body to stream upstream (null: none); the Upgrade protocol for tunnels. */
  readonly body: IncomingMessage | null;
  readonly upgrade: string | undefined;
  upstream: Upstream;
  controller: Dispatcher.DispatchController | null = null;
  attempt = 0;
  written = false;
  responded = false;
  gone = false;
  t0 = 0;

  constructor(ctx: ProxyContext, req: IncomingMessage, path: string, h: UpstreamHeaders, upstream: Upstream, body: IncomingMessage | null, upgrade: string | undefined) {
    this.ctx = ctx;
    this.req = req;
    this.path = path;
    this.headers = h.headers;
    this.host = h.host;
    this.body = body;
    this.upgrade = upgrade;
    this.upstream = upstream;
  }

  /** Sends the request to `this.upstream`; called again with another upstream on a retry. */
  dispatch(): void {
    const up = this.upstream;
    this.headers[1] = up.hostHeader ?? (this.host === '' ? up.authority : this.host);
    this.written = false;
    this.controller = null;
    this.t0 = performance.now();
    up.pool.dispatch({ path: this.path, method: this.req.method as Dispatcher.HttpMethod, headers: this.headers, body: this.body, upgrade: this.upgrade }, this as unknown as Dispatcher.DispatchHandler);
  }

  /** The client went away: stop the upstream exchange. */
  clientGone(): void {
    this.gone = true;
    this.controller?.abort(new ClientGoneError());
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    this.written = true;
    if (this.gone) controller.abort(new ClientGoneError());
  }

  /** The response has started: upstream latency and status class. */
  countResponse(statusCode: number): void {
    this.responded = true;
    const m = this.upstream.metrics;
    m.duration.observe((performance.now() - this.t0) / 1000);
    m.requests[statusCode > 599 ? 5 : (statusCode / 100) | 0].inc();
  }

  /** Counts the failure and, when safe and a transition in progress has a healthy target, dispatches again there. */
  retried(err: Error, failure: UpstreamFailure, bodyReplayable: boolean): boolean {
    const up = this.upstream;
    this.ctx.upstreamFailed(up, failure, err);
    const target = this.ctx.retryTarget(up, { attempt: this.attempt, failure, written: this.written, responseStarted: this.responded, bodyReplayable });
    if (target === undefined) return false;
    this.attempt++;
    this.upstream = target;
    this.dispatch();
    return true;
  }
}

// One proxied HTTP request: an undici dispatch handler that streams the request body up and the
// response body down with backpressure (nothing is buffered whole), answers upstream failures
// with the proxy's error replies, and retries once on the next healthy cluster when that is safe.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { ProxyContext } from './context.ts';
import { classifyUpstreamError } from './decide.ts';
import { buildResponseHeaders, type ResponseHeaders, type UpstreamHeaders } from './headers.ts';
import { sendReply } from './replies.ts';
import type { Upstream } from './upstream.ts';

const kExchange = Symbol('switchyard.exchange');
type Tagged = ServerResponse & { [kExchange]?: HttpExchange };

class ClientGoneError extends Error {
  constructor() {
    super('the client closed the connection');
    this.name = 'ClientGoneError';
  }
}

function onResponseClose(this: Tagged): void {
  const ex = this[kExchange];
  if (ex !== undefined && !this.writableFinished) ex.clientGone();
}

function onResponseDrain(this: Tagged): void {
  this[kExchange]?.controller?.resume();
}

export class HttpExchange implements Dispatcher.DispatchHandler {
  readonly ctx: ProxyContext;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly path: string;
  readonly headers: string[];
  readonly host: string;
  readonly body: IncomingMessage | null;
  upstream: Upstream;
  controller: Dispatcher.DispatchController | null = null;
  attempt = 0;
  written = false;
  responded = false;
  gone = false;
  t0 = 0;

  constructor(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse, path: string, h: UpstreamHeaders, upstream: Upstream) {
    this.ctx = ctx;
    this.req = req;
    this.res = res;
    this.path = path;
    this.headers = h.headers;
    this.host = h.host;
    this.body = h.hasBody ? req : null;
    this.upstream = upstream;
    (res as Tagged)[kExchange] = this;
    res.once('close', onResponseClose);
  }

  dispatch(): void {
    const up = this.upstream;
    this.headers[1] = up.hostHeader ?? (this.host === '' ? up.authority : this.host);
    this.written = false;
    this.controller = null;
    this.t0 = performance.now();
    up.pool.dispatch({ path: this.path, method: this.req.method as Dispatcher.HttpMethod, headers: this.headers, body: this.body }, this);
  }

  clientGone(): void {
    this.gone = true;
    this.controller?.abort(new ClientGoneError());
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    this.written = true;
    if (this.gone) controller.abort(new ClientGoneError());
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: ResponseHeaders, statusMessage?: string): void {
    if (statusCode < 200) return;
    this.responded = true;
    const m = this.upstream.metrics;
    m.duration.observe((performance.now() - this.t0) / 1000);
    m.requests[statusCode > 599 ? 5 : (statusCode / 100) | 0].inc();
    this.res.writeHead(statusCode, statusMessage || undefined, buildResponseHeaders(headers, false));
    if (this.gone) controller.abort(new ClientGoneError());
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.res.destroyed) {
      this.gone = true;
      controller.abort(new ClientGoneError());
      return;
    }
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', onResponseDrain);
    }
  }

  onResponseEnd(): void {
    this.res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, err: Error): void {
    if (this.gone || err instanceof ClientGoneError || this.req.errored === err || this.res.socket?.destroyed === true) return;
    const failure = classifyUpstreamError(err as Error & { code?: unknown });
    const up = this.upstream;
    this.ctx.upstreamFailed(up, failure, err);
    const target = this.ctx.retryTarget(up, {
      method: this.req.method ?? '',
      attempt: this.attempt,
      failure,
      written: this.written,
      responseStarted: this.responded,
      bodyReplayable: this.body === null || !this.body.readableDidRead,
    });
    if (target !== undefined) {
      this.attempt++;
      this.upstream = target;
      this.dispatch();
      return;
    }
    if (this.res.headersSent) {
      this.res.destroy(err);
      return;
    }
    this.ctx.metrics.request(up.name, failure.status);
    sendReply(this.res, this.ctx.replies[failure.code], this.body !== null && !this.req.complete);
  }
}

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
import { ClientGoneError, Exchange } from './exchange.ts';

const kExchange = Symbol('switchyard.exchange');
type Tagged = ServerResponse & { [kExchange]?: HttpExchange };

function onResponseClose(this: Tagged): void {
  const ex = this[kExchange];
  if (ex !== undefined && !this.writableFinished) ex.clientGone();
}

function onResponseDrain(this: Tagged): void {
  this[kExchange]?.controller?.resume();
}

export class HttpExchange extends Exchange implements Dispatcher.DispatchHandler {
  readonly res: ServerResponse;

  constructor(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse, path: string, h: UpstreamHeaders, upstream: Upstream) {
    super(ctx, req, path, h, upstream, h.hasBody ? req : null, undefined);
    this.res = res;
    (res as Tagged)[kExchange] = this;
    // on, not once: a response closes once, and once() would wrap the listener per request.
    res.on('close', onResponseClose);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: ResponseHeaders, statusMessage?: string): void {
    if (statusCode < 200) return;
    this.countResponse(statusCode);
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
    if (this.retried(err, failure, this.body === null || !this.body.readableDidRead)) return;
    if (this.res.headersSent) {
      this.res.destroy(err);
      return;
    }
    this.ctx.metrics.request(this.upstream.name, failure.status);
    sendReply(this.res, this.ctx.replies[failure.code], this.body !== null && !this.req.complete);
  }
}

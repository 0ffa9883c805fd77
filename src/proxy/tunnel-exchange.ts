// One Upgrade request (WebSocket and any other protocol): forwarded to the active cluster; a 101
// answer turns both connections into a byte tunnel registered with the cluster (so failover can
// close it), any other answer is relayed on the raw client socket and the connection closed.
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { ProxyContext } from './context.ts';
import { classifyUpstreamError } from './decide.ts';
import { buildResponseHeaders, type ResponseHeaders, type UpstreamHeaders } from './headers.ts';
import { rawHead, sendRawReply } from './replies.ts';
import type { Upstream } from './upstream.ts';

function onDrainResume(this: Duplex & { resumeUpstream?: () => void }): void {
  this.resumeUpstream?.();
}

export class TunnelExchange implements Dispatcher.DispatchHandler {
  readonly ctx: ProxyContext;
  readonly req: IncomingMessage;
  readonly socket: Socket;
  readonly head: Buffer;
  readonly path: string;
  readonly headers: string[];
  readonly host: string;
  readonly upgrade: string;
  upstream: Upstream;
  controller: Dispatcher.DispatchController | null = null;
  attempt = 0;
  written = false;
  responded = false;
  gone = false;
  t0 = 0;

  constructor(ctx: ProxyContext, req: IncomingMessage, socket: Socket, head: Buffer, path: string, h: UpstreamHeaders, upstream: Upstream) {
    this.ctx = ctx;
    this.req = req;
    this.socket = socket;
    this.head = head;
    this.path = path;
    this.headers = h.headers;
    this.host = h.host;
    this.upgrade = h.upgrade;
    this.upstream = upstream;
    socket.on('error', () => socket.destroy());
    socket.once('close', () => {
      if (this.responded) return;
      this.gone = true;
      this.controller?.abort(new Error('the client closed the connection'));
    });
  }

  dispatch(): void {
    const up = this.upstream;
    this.headers[1] = up.hostHeader ?? (this.host === '' ? up.authority : this.host);
    this.written = false;
    this.controller = null;
    this.t0 = performance.now();
    up.pool.dispatch({ path: this.path, method: this.req.method as Dispatcher.HttpMethod, headers: this.headers, body: null, upgrade: this.upgrade }, this);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    this.written = true;
    if (this.gone) controller.abort(new Error('the client closed the connection'));
  }

  onRequestUpgrade(_controller: Dispatcher.DispatchController, statusCode: number, headers: ResponseHeaders, upstreamSocket: Duplex): void {
    this.responded = true;
    const up = this.upstream;
    up.metrics.duration.observe((performance.now() - this.t0) / 1000);
    up.metrics.requests[1].inc();
    const client = this.socket;
    if (this.gone || client.destroyed) {
      upstreamSocket.destroy();
      return;
    }
    client.setTimeout(0);
    client.setNoDelay(true);
    client.write(rawHead(statusCode, 'Switching Protocols', buildResponseHeaders(headers, true), false));
    if (this.head.length > 0) upstreamSocket.write(this.head);
    const closeBoth = () => {
      client.destroy();
      upstreamSocket.destroy();
    };
    upstreamSocket.on('error', closeBoth);
    upstreamSocket.on('close', closeBoth);
    client.on('close', closeBoth);
    client.pipe(upstreamSocket);
    upstreamSocket.pipe(client);
    up.tunnels.add(client);
    up.metrics.websockets.inc();
    client.once('close', () => {
      up.tunnels.delete(client);
      up.metrics.websockets.dec();
    });
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: ResponseHeaders, statusMessage?: string): void {
    if (statusCode < 200) return;
    this.responded = true;
    const m = this.upstream.metrics;
    m.duration.observe((performance.now() - this.t0) / 1000);
    m.requests[statusCode > 599 ? 5 : (statusCode / 100) | 0].inc();
    const out = buildResponseHeaders(headers, false);
    if (!this.socket.write(rawHead(statusCode, statusMessage ?? '', out, true))) this.pauseUntilDrain(controller);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.socket.destroyed) {
      this.gone = true;
      controller.abort(new Error('the client closed the connection'));
      return;
    }
    if (!this.socket.write(chunk)) this.pauseUntilDrain(controller);
  }

  onResponseEnd(): void {
    this.socket.end();
  }

  private pauseUntilDrain(controller: Dispatcher.DispatchController): void {
    controller.pause();
    const s = this.socket as Socket & { resumeUpstream?: () => void };
    s.resumeUpstream = () => controller.resume();
    s.once('drain', onDrainResume);
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, err: Error): void {
    if (this.gone || this.socket.destroyed) return;
    const failure = classifyUpstreamError(err as Error & { code?: unknown });
    const up = this.upstream;
    this.ctx.upstreamFailed(up, failure, err);
    const target = this.ctx.retryTarget(up, { method: this.req.method ?? '', attempt: this.attempt, failure, written: this.written, responseStarted: this.responded, bodyReplayable: true });
    if (target !== undefined) {
      this.attempt++;
      this.upstream = target;
      this.dispatch();
      return;
    }
    if (this.responded) {
      this.socket.destroy();
      return;
    }
    this.ctx.metrics.request(up.name, failure.status);
    sendRawReply(this.socket, this.ctx.replies[failure.code]);
  }
}

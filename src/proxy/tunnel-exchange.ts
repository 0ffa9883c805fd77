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
import { ClientGoneError, Exchange } from './exchange.ts';

function onDrainResume(this: Duplex & { resumeUpstream?: () => void }): void {
  this.resumeUpstream?.();
}

export class TunnelExchange extends Exchange implements Dispatcher.DispatchHandler {
  readonly socket: Socket;
  readonly head: Buffer;

  constructor(ctx: ProxyContext, req: IncomingMessage, socket: Socket, head: Buffer, path: string, h: UpstreamHeaders, upstream: Upstream) {
    super(ctx, req, path, h, upstream, null, h.upgrade);
    this.socket = socket;
    this.head = head;
    socket.on('error', () => socket.destroy());
    socket.once('close', () => { if (!this.responded) this.clientGone(); });
  }

  onRequestUpgrade(_controller: Dispatcher.DispatchController, statusCode: number, headers: ResponseHeaders, upstreamSocket: Duplex): void {
    this.countResponse(statusCode);
    const up = this.upstream;
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
    this.countResponse(statusCode);
    const out = buildResponseHeaders(headers, false);
    if (!this.socket.write(rawHead(statusCode, statusMessage ?? '', out, true))) this.pauseUntilDrain(controller);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.socket.destroyed) {
      this.gone = true;
      controller.abort(new ClientGoneError());
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
    if (this.retried(err, failure, true)) return;
    if (this.responded) {
      this.socket.destroy();
      return;
    }
    this.ctx.metrics.request(this.upstream.name, failure.status);
    sendRawReply(this.socket, this.ctx.replies[failure.code]);
  }
}

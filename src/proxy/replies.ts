// The proxy's own answers: a status, `x-switchyard-error: CODE` and a JSON body {code, message},
// built once per code. Served through ServerResponse on the request path, or as raw bytes on a
// socket that has no response object (client errors, upgrades, CONNECT).
import type { ServerResponse } from 'node:http';
import { http } from '../node-builtins.ts';
import type { Duplex } from 'node:stream';
import { ERROR_CODES, type ErrorCode } from '../errors.ts';

const { STATUS_CODES } = http;

export interface Reply {
  status: number;
  headers: string[];
  body: Buffer;
  /** The whole HTTP/1.1 message with `connection: close`, for raw sockets. */
  raw: Buffer;
}

/** The proxy's codes: every SWY_PROXY_* code of the catalogue, which also gives each its status. */
export type ProxyErrorCode = Extract<ErrorCode, `SWY_PROXY_${string}`>;
export const PROXY_ERROR_CODES = (Object.keys(ERROR_CODES) as ErrorCode[]).filter((c): c is ProxyErrorCode => c.startsWith('SWY_PROXY_'));

function build(code: ProxyErrorCode): Reply {
  const { statusCode: status, message } = ERROR_CODES[code];
  const body = Buffer.from(JSON.stringify({ code, message }));
  const headers = ['content-type', 'application/json', 'x-switchyard-error', code, 'content-length', String(body.length), 'cache-control', 'no-store'];
  if (code === 'SWY_PROXY_CONNECT_REJECTED') headers.push('allow', 'GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH, TRACE');
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  head += 'connection: close\r\n\r\n';
  return { status, headers, body, raw: Buffer.concat([Buffer.from(head, 'latin1'), body]) };
}

/** The prebuilt reply of every proxy error code. */
export function buildReplies(): Record<ProxyErrorCode, Reply> {
  const out = {} as Record<ProxyErrorCode, Reply>;
  for (const code of PROXY_ERROR_CODES) out[code] = build(code);
  return out;
}

/** Sends a prebuilt reply on the request path (ServerResponse). */
export function sendReply(res: ServerResponse, reply: Reply, close: boolean): void {
  res.writeHead(reply.status, close ? [...reply.headers, 'connection', 'close'] : reply.headers);
  res.end(reply.body);
}

/** Writes a prebuilt reply on a raw socket and closes it. */
export function sendRawReply(socket: Duplex, reply: Reply): void {
  if (socket.writable) socket.end(reply.raw);
  else socket.destroy();
}

/** An HTTP/1.1 response head for a raw socket, from a flat header list. */
export function rawHead(status: number, statusMessage: string, headers: readonly string[], close: boolean): string {
  let head = `HTTP/1.1 ${status} ${statusMessage || STATUS_CODES[status] || ''}\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return close ? `${head}connection: close\r\n\r\n` : `${head}\r\n`;
}

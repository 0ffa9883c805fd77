// Header rewriting in both directions: hop-by-hop headers are removed (RFC 9110 §7.6.1), the
// X-Forwarded-* family and Forwarded (RFC 7239) are replaced by the proxy's own (or appended to
// when proxy.trustForwarded), Host is passed through unless the cluster overrides it. The
// client's Connection-listed headers are removed from the client's headers only, before the
// proxy's own are added, so a client cannot strip the forwarding headers by listing them. Works on Node's flat rawHeaders list so the hot path never builds
// the lazily parsed `req.headers` object.

/** Headers that describe one connection and never cross a proxy (request direction). */
const REQUEST_HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  'proxy-authorization', 'expect',
]);
/** Same for responses; Proxy-Authenticate challenges are for this hop only. */
const RESPONSE_HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  'proxy-authenticate',
]);
// Lengths of every header name the request pass looks at: other names skip the lower-casing.
const INTERESTING_LENGTHS = new Set(['host', 'content-length', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded', ...REQUEST_HOP_BY_HOP].map((n) => n.length));

/** Response headers as undici parses them: lower-case names. */
export type ResponseHeaders = Record<string, string | string[] | undefined>;

/** Connection options that name no header. */
const CONNECTION_KEYWORDS = new Set(['close', 'keep-alive', 'upgrade']);

export interface UpstreamHeaders {
  /** Flat [name, value, ...] list for undici; index 0/1 is the Host slot (value '' when the client sent none). */
  headers: string[];
  /** The client's Host (or the absolute-form authority), '' when absent. */
  host: string;
  /** The request carries a body (Content-Length > 0 or Transfer-Encoding). */
  hasBody: boolean;
  /** The Upgrade header's value, '' when absent. */
  upgrade: string;
}

/** The client address as it should appear in X-Forwarded-For (IPv4-mapped IPv6 unwrapped). */
export function clientAddress(remote: string | undefined): string {
  if (remote === undefined) return 'unknown';
  return remote.startsWith('::ffff:') && remote.includes('.') ? remote.slice(7) : remote;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function quoteIfNeeded(v: string): string {
  return TOKEN.test(v) ? v : `"${v.replace(/["\\]/g, '\\$&')}"`;
}

/** One RFC 7239 forwarded-element: `for=...;host=...;proto=...` (IPv6 quoted in brackets). */
export function forwardedElement(client: string, host: string, proto: string): string {
  const node = client.includes(':') ? `"[${client}]"` : quoteIfNeeded(client);
  return host === '' ? `for=${node};proto=${proto}` : `for=${node};host=${quoteIfNeeded(host)};proto=${proto}`;
}

// The last forwarded-element built: consecutive requests (a keep-alive connection's, a client's)
// mostly share client, host and proto, so the hot path compares three strings instead of
// testing and quoting both values again.
let lastClient = '';
let lastHost = '';
let lastProto = '';
let lastElement = '';
function forwardedElementCached(client: string, host: string, proto: string): string {
  if (client !== lastClient || host !== lastHost || proto !== lastProto) {
    lastElement = forwardedElement(client, host, proto);
    lastClient = client;
    lastHost = host;
    lastProto = proto;
  }
  return lastElement;
}

function appendValue(existing: string | undefined, value: string): string {
  return existing === undefined || existing === '' ? value : `${existing}, ${value}`;
}

/**
 * Builds the header list sent upstream from the client's raw headers. `authority` replaces the
 * client's Host (absolute-form targets, RFC 9112 §3.2.2) when not ''. `trustForwarded`: the
 * client's X-Forwarded-For/-Proto/-Host and Forwarded are appended to (a trusted proxy is in
 * front); otherwise they are dropped and only this proxy's values go upstream.
 */
export function buildUpstreamHeaders(raw: readonly string[], client: string, proto: string, authority: string, trustForwarded: boolean): UpstreamHeaders {
  const out: string[] = ['host', ''];
  let host = '';
  let xff: string | undefined;
  let xfp: string | undefined;
  let xfh: string | undefined;
  let fwd: string | undefined;
  let connection = '';
  let upgrade = '';
  let hasBody = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const value = raw[i + 1];
    if (!INTERESTING_LENGTHS.has(name.length)) {
      out.push(name, value);
      continue;
    }
    const lower = name.toLowerCase();
    switch (lower) {
      case 'host': host = value; continue;
      case 'x-forwarded-for': if (trustForwarded) xff = appendValue(xff, value); continue;
      case 'x-forwarded-proto': if (trustForwarded) xfp = appendValue(xfp, value); continue;
      case 'x-forwarded-host': if (trustForwarded) xfh = appendValue(xfh, value); continue;
      case 'forwarded': if (trustForwarded) fwd = appendValue(fwd, value); continue;
      case 'connection': connection = appendValue(connection, value); continue;
      case 'upgrade': upgrade = value; continue;
      case 'transfer-encoding': hasBody = true; continue;
      case 'content-length': if (value !== '0') hasBody = true; break;
      default: if (REQUEST_HOP_BY_HOP.has(lower)) continue;
    }
    out.push(name, value);
  }
  if (authority !== '') host = authority;
  out[1] = host;
  // Connection-listed names apply to the client's own headers (before this index) only.
  const clientEnd = out.length;
  out.push('x-forwarded-for', appendValue(xff, client));
  out.push('x-forwarded-proto', appendValue(xfp, proto));
  if (host !== '') out.push('x-forwarded-host', appendValue(xfh, host));
  out.push('forwarded', appendValue(fwd, forwardedElementCached(client, host, proto)));
  const headers = connection === '' ? out : dropConnectionListed(out, clientEnd, connection);
  return { headers, host, hasBody, upgrade };
}

/** Names listed in a Connection header that are not plain connection keywords, lower-cased. */
export function connectionListed(connection: string): Set<string> {
  const names = new Set<string>();
  for (const token of connection.split(',')) {
    const t = token.trim().toLowerCase();
    if (t !== '' && !CONNECTION_KEYWORDS.has(t)) names.add(t);
  }
  return names;
}

/** A Connection value that is one keyword and lists no header (an upstream's usual `keep-alive`). */
function isKeyword(connection: string): boolean {
  return connection.length <= 10 && CONNECTION_KEYWORDS.has(connection.toLowerCase());
}

/** Names a client may not declare hop-by-hop: the request's framing. Host (slot 0) is never filtered. */
const NOT_HOP_BY_HOP = new Set(['content-length']);

/** Drops the Connection-listed client headers in [2, clientEnd); the proxy's own after it stay. */
function dropConnectionListed(headers: string[], clientEnd: number, connection: string): string[] {
  const listed = connectionListed(connection);
  if (listed.size === 0) return headers;
  const kept: string[] = [headers[0], headers[1]];
  for (let i = 2; i < headers.length; i += 2) {
    const name = headers[i].toLowerCase();
    if (i >= clientEnd || !listed.has(name) || NOT_HOP_BY_HOP.has(name)) kept.push(headers[i], headers[i + 1]);
  }
  return kept;
}

/**
 * The upstream response headers to send to the client, as a flat list for res.writeHead.
 * `keepUpgrade` keeps Connection/Upgrade (the 101 answer of a tunnelled upgrade).
 */
export function buildResponseHeaders(headers: ResponseHeaders, keepUpgrade: boolean): string[] {
  const out: string[] = [];
  const connection = headers.connection;
  const listed = typeof connection === 'string' && !isKeyword(connection) ? connectionListed(connection) : undefined;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (RESPONSE_HOP_BY_HOP.has(name) && !(keepUpgrade && (name === 'connection' || name === 'upgrade'))) continue;
    if (listed !== undefined && listed.has(name)) continue;
    if (typeof value === 'string') out.push(name, value);
    else for (const v of value) out.push(name, v);
  }
  return out;
}

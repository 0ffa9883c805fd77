// The http probe (config kinds `http` and `https`): one request with undici over a pool of one
// keep-alive connection to the URL's origin. A check passes when the status is in expectStatus
// and, if set, bodyContains occurs in the first BODY_LIMIT bytes of the body.
//
// Connections: a failed check throws the pool away, so the checks that confirm a failure (and
// the first one after it) always open a fresh connection; and a connection carries at most
// MAX_CHECKS_PER_CONNECTION checks, so a server that stopped accepting new connections is noticed
// even if an old connection still answers.
//
// TLS: verification is on unless insecureSkipVerify; `ca` (a PEM file, read once here) replaces
// the system roots. The name sent as SNI and verified against the certificate is `sni` if set,
// else the `host` override, else the URL's host name (none for an IP literal, whose certificate
// is then verified against the IP).
import { fs } from '../../node-builtins.ts';
import { Pool, buildConnector, request as undiciRequest, type Connector } from '../../undici-parts.ts';
import type { Dispatcher } from 'undici';
import type { HttpProbeConfig } from '../../config/index.ts';
import { SwitchyardError } from '../../errors.ts';
import type { Probe } from '../types.ts';

const { readFileSync } = fs;

export const BODY_LIMIT = 64 * 1024;
export const MAX_CHECKS_PER_CONNECTION = 10;

export function createHttpProbe(config: HttpProbeConfig): Probe {
  const url = new URL(config.url);
  const path = `${url.pathname}${url.search}`;
  const headers: Record<string, string> = { 'user-agent': 'switchyard-health' };
  for (const [k, v] of Object.entries(config.headers)) headers[k.toLowerCase()] = v;
  if (config.host !== undefined) headers.host = config.host;
  const needle = config.bodyContains === undefined ? undefined : Buffer.from(config.bodyContains);
  const connect = url.protocol === 'https:' ? tlsConnector(config) : buildConnector({ allowH2: false });

  const newPool = (): Pool => new Pool(url.origin, {
    connections: 1,
    pipelining: 1,
    allowH2: false,
    maxRequestsPerClient: MAX_CHECKS_PER_CONNECTION,
    connect,
  });
  let pool = newPool();

  async function request(dispatcher: Dispatcher, signal: AbortSignal): Promise<void> {
    const { statusCode, body } = await undiciRequest(dispatcher, { path, method: config.method, headers, signal });
    // Errors of the body surface through dump() and iteration; destroying it must not emit an unhandled 'error'.
    body.on('error', () => undefined);
    if (!config.expectStatus.includes(statusCode)) {
      body.destroy();
      throw new SwitchyardError('SWY_HEALTH_UNEXPECTED_STATUS', `status ${statusCode}, expected ${config.expectStatus.join(' or ')}`, { status: statusCode, expectStatus: config.expectStatus });
    }
    if (needle === undefined) {
      await body.dump({ limit: BODY_LIMIT, signal });
      return;
    }
    if (!(await bodyIncludes(body, needle))) {
      throw new SwitchyardError('SWY_HEALTH_BODY_MISMATCH', `body does not contain ${JSON.stringify(config.bodyContains)} in its first ${BODY_LIMIT} bytes`, { bodyContains: config.bodyContains });
    }
  }

  return {
    name: config.name,
    async check(signal) {
      const used = pool;
      try {
        await request(used, signal);
      } catch (err) {
        if (pool === used) {
          pool = newPool();
          used.destroy().catch(() => undefined);
        }
        throw err;
      }
    },
    async close() {
      await pool.destroy();
    },
  };
}

function tlsConnector(config: HttpProbeConfig): Connector {
  const base = buildConnector({
    allowH2: false,
    rejectUnauthorized: !config.insecureSkipVerify,
    ...(config.ca === undefined ? {} : { ca: readCa(config.ca) }),
  });
  const sni = config.sni;
  if (sni === undefined) return base;
  return (options, callback) => base({ ...options, servername: sni }, callback);
}

function readCa(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new SwitchyardError('SWY_HEALTH_CA_READ', `cannot read the probe's ca file ${file}: ${(err as Error).message}`, { file }, { cause: err });
  }
}

/** Reads the body to its end or to BODY_LIMIT bytes, whichever comes first, and looks for `needle`. */
async function bodyIncludes(body: AsyncIterable<Buffer> & { destroy(): unknown }, needle: Buffer): Promise<boolean> {
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= BODY_LIMIT) break;
    }
  } finally {
    body.destroy();
  }
  return Buffer.concat(chunks, length).subarray(0, BODY_LIMIT).includes(needle);
}

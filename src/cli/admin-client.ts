// A small client of the admin API for the CLI commands (status, failover, failback, drill).
import { SwitchyardError } from '../errors.ts';

export interface AdminClient {
  get<T = unknown>(path: string): Promise<T>;
  post<T = unknown>(path: string, body: unknown): Promise<T>;
}

export class AdminApiError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:9090';

/** `localhost:9090`, `127.0.0.1:9090/` or `http://host:port`: the admin base URL, http:// when no scheme is given. */
export function adminBaseUrl(given: string | undefined): string {
  const raw = (given ?? DEFAULT_ADMIN_URL).trim();
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  let parsed: URL;
  try { parsed = new URL(url); } catch {
    throw new SwitchyardError('SWY_CLI_USAGE', `--admin ${JSON.stringify(given)} is not an address (e.g. 127.0.0.1:9090 or http://127.0.0.1:9090)`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new SwitchyardError('SWY_CLI_USAGE', `--admin ${JSON.stringify(given)}: only http:// and https:// are spoken`);
  return url.replace(/\/+$/, '');
}

export function createAdminClient(options: { baseUrl: string; token: string | undefined; timeoutMs?: number }): AdminClient {
  const base = options.baseUrl.replace(/\/+$/, '');
  const timeout = options.timeoutMs ?? 10_000;
  async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    let res;
    try {
      // Loaded here, not at import: `serve` imports this module too and never calls it.
      const { request } = await import('undici');
      res = await request(`${base}${path}`, {
        method,
        headers: {
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        headersTimeout: timeout,
        bodyTimeout: timeout,
      });
    } catch (err) {
      throw new SwitchyardError('SWY_ADMIN_UNREACHABLE', `cannot reach the admin API at ${base}: ${(err as Error).message} (is switchyard serve running? --admin URL)`, { url: base }, { cause: err });
    }
    const text = await res.body.text();
    let json: unknown;
    try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
    if (res.statusCode >= 400) {
      const e = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new AdminApiError(res.statusCode, e?.code ?? `HTTP_${res.statusCode}`, e?.message ?? text.slice(0, 200));
    }
    return json as T;
  }
  return { get: (p) => call('GET', p), post: (p, b) => call('POST', p, b) };
}

// The admin slice of the configuration: `admin` (the admin API, metrics and status page).
// Declared once with src/config/schema.ts; src/config composes it (and passes the token, which
// only src/config reads from the environment).
import * as s from '../config/schema.ts';
import type { ListenAddress } from '../config/types.ts';
import type { Issues } from '../config/fields.ts';

export interface AdminConfig {
  listen: ListenAddress;
  token: string | undefined;
  shutdownDelay: number;
  /** Host names (lower-case) accepted in the Host header besides IP literals and localhost. */
  allowedHosts: string[];
  /** /metrics, /v1/status and the page without the token (always true without a token). */
  openReads: boolean;
}

export const adminSchema = s.object({
  listen: s.listen({ default: '127.0.0.1:9090', description: 'where the admin API listens. A non-loopback address (anything but `127.0.0.0/8` and `::1`) is refused unless `SWITCHYARD_ADMIN_TOKEN` is set (`SWY_ADMIN_TOKEN_REQUIRED`)', doc: { type: 'listen address' } }),
  shutdownDelay: s.duration(0, 600_000, { default: '0ms', description: 'lame duck: on SIGTERM, `/readyz` answers 503 for this long before the listeners close, so load balancers stop sending first' }),
  allowedHosts: s.list(s.dnsName({ description: 'a host name accepted without the token' }), { default: [], description: 'names accepted in the `Host` header of a request without the token, besides IP literals and `localhost` (for example the Service name you reach it by: `switchyard-admin.switchyard.svc`). Any other name is refused with 403 `SWY_ADMIN_HOST_REJECTED`: that is what a DNS-rebinding page sends', doc: { type: 'list of DNS names' } }),
  openReads: s.optional(s.boolean({ description: 'whether `/metrics`, `/v1/status` and the page `/` are served without the token. Off loopback they reveal the topology (clusters, addresses, probes), so by default they need it too. `/healthz` and `/readyz` are always open. `false` needs `SWITCHYARD_ADMIN_TOKEN`' }), { default: '`true` when `admin.listen` is a loopback address (or no token is set), else `false`' }),
}, { default: {}, description: 'The admin API, `/metrics` and the status page.' });

const isLoopback = (host: string): boolean => host === '::1' || host.startsWith('127.');

export function readAdmin(v: unknown, token: string | undefined, issues: Issues): AdminConfig | undefined {
  const r = s.readNode(adminSchema, v, 'admin', issues);
  if (token !== undefined && token.trim() === '') {
    issues.push({ path: 'SWITCHYARD_ADMIN_TOKEN', message: 'is set but empty: an empty token is not "no authentication"; unset it or set a real token (SWY_ADMIN_TOKEN_EMPTY)' });
    return undefined;
  }
  if (token !== undefined && /\s/.test(token)) {
    issues.push({ path: 'SWITCHYARD_ADMIN_TOKEN', message: 'contains whitespace, which a bearer token cannot carry (SWY_ADMIN_TOKEN_EMPTY)' });
    return undefined;
  }
  if (!r) return undefined;
  const { listen, shutdownDelay, allowedHosts } = r;
  const loopback = isLoopback(listen.host);
  const openReads = r.openReads ?? (loopback || token === undefined);
  if (!loopback && token === undefined) {
    issues.push({ path: 'admin.listen', message: `${listen.host} is not a loopback address: set SWITCHYARD_ADMIN_TOKEN (SWY_ADMIN_TOKEN_REQUIRED)` });
    return undefined;
  }
  if (!openReads && token === undefined) {
    issues.push({ path: 'admin.openReads', message: 'false needs SWITCHYARD_ADMIN_TOKEN: without a token there is nothing to ask readers for' });
    return undefined;
  }
  return { listen, token, shutdownDelay, allowedHosts, openReads };
}

// PowerDNS Authoritative under test: the bind backend serving a zone whose app record is a LUA
// record with ifurlup (first set {127.0.0.2}, then {127.0.0.3}); foreground, no guardian, its
// own config dir, on a free port. Settings from the PowerDNS docs (Lua records, settings).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../test/support/ports.ts';
import { ACTIVE, PASSIVE, TTL, ZONE, childServer, type ServerUnderTest } from './server.ts';

export interface PdnsCaches { 'cache-ttl': number; 'query-cache-ttl': number; 'negquery-cache-ttl': number }

/** PowerDNS's own defaults: the packet cache and the query cache as shipped. */
export const STOCK_CACHES: PdnsCaches = { 'cache-ttl': 20, 'query-cache-ttl': 20, 'negquery-cache-ttl': 60 };
/** Every cache off: nothing but the health checker between a failure and the answer. */
export const NO_CACHES: PdnsCaches = { 'cache-ttl': 0, 'query-cache-ttl': 0, 'negquery-cache-ttl': 0 };

const HEALTH_CHECKS_INTERVAL = 1;

function pdnsConf(dir: string, dnsPort: number, caches: PdnsCaches): string {
  return `launch=bind
bind-config=${join(dir, 'named.conf')}
local-address=127.0.0.1
local-port=${dnsPort}
socket-dir=${dir}
guardian=no
daemon=no
disable-syslog=yes
write-pid=no
security-poll-suffix=
receiver-threads=1
distributor-threads=1
loglevel=6
enable-lua-records=yes
lua-health-checks-interval=${HEALTH_CHECKS_INTERVAL}
cache-ttl=${caches['cache-ttl']}
query-cache-ttl=${caches['query-cache-ttl']}
negquery-cache-ttl=${caches['negquery-cache-ttl']}
`;
}

function zone(healthUrl: string): string {
  return `$TTL ${TTL}
@    IN SOA ns1.${ZONE}. hostmaster.${ZONE}. 1 7200 1800 259200 ${TTL}
@    IN NS  ns1.${ZONE}.
ns1  IN A   127.0.0.1
app  ${TTL} IN LUA A "ifurlup('${healthUrl}', {{'${ACTIVE}'}, {'${PASSIVE}'}})"
`;
}

export function pdns(label: string, caches: PdnsCaches): ServerUnderTest {
  return {
    name: `pdns ifurlup, ${label}`,
    settings: `lua-health-checks-interval=${HEALTH_CHECKS_INTERVAL}, ifurlup defaults (timeout 2s, down after one failed check); ${Object.entries(caches).map(([k, v]) => `${k}=${v}`).join(', ')}`,
    probeIntervalMs: HEALTH_CHECKS_INTERVAL * 1000,
    timeoutMs: 30_000,
    async start(ctx) {
      const dnsPort = await freePort();
      writeFileSync(join(ctx.dir, 'pdns.conf'), pdnsConf(ctx.dir, dnsPort, caches));
      writeFileSync(join(ctx.dir, 'named.conf'), `zone "${ZONE}" { type master; file "${join(ctx.dir, `${ZONE}.zone`)}"; };\n`);
      writeFileSync(join(ctx.dir, `${ZONE}.zone`), zone(ctx.health.active.url));
      return childServer(ctx.cleanup.spawn('pdns_server', 'pdns_server', [`--config-dir=${ctx.dir}`]), dnsPort);
    },
  };
}

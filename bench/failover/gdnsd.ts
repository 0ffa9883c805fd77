// gdnsd 3 under test: the simplefo plugin (primary 127.0.0.2, secondary 127.0.0.3) fed by an
// http_status service type against the same health endpoints; foreground, in the run's folder,
// on a free port. Syntax from gdnsd.config(5), gdnsd.zonefile(5), gdnsd-plugin-simplefo(8) and
// gdnsd-plugin-http_status(8) of gdnsd 3.8.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../test/support/ports.ts';
import { ACTIVE, PASSIVE, TTL, ZONE, childServer, type ServerUnderTest } from './server.ts';

// interval is in whole seconds and timeout must be below it; up/ok thresholds play switchyard's rise 2.
export const GDNSD_MONITOR = { interval: 2, timeout: 1, down_thresh: 3, up_thresh: 2, ok_thresh: 2 } as const;

function config(dir: string, dnsPort: number, health: { port: number; path: string }): string {
  const m = GDNSD_MONITOR;
  return `options => {
  listen => [ 127.0.0.1:${dnsPort} ]
  run_dir => ${join(dir, 'run')}
  state_dir => ${join(dir, 'state')}
  udp_threads => 1
  tcp_threads => 1
}
service_types => {
  cluster_health => {
    plugin => http_status
    port => ${health.port}
    url_path => ${health.path}
    ok_codes => [ 200 ]
    interval => ${m.interval}
    timeout => ${m.timeout}
    down_thresh => ${m.down_thresh}
    up_thresh => ${m.up_thresh}
    ok_thresh => ${m.ok_thresh}
  }
}
plugins => {
  simplefo => {
    app => { service_types => [ cluster_health ], primary => ${ACTIVE}, secondary => ${PASSIVE} }
  }
}
`;
}

// DYNA TTL ${TTL} means MAX 30 / MIN 15: gdnsd halves it while the primary is not UP (its own
// feature; it does not change when the authoritative answer changes, which is what is measured).
const zone = `$TTL ${TTL}
@    SOA ns1 hostmaster 1 7200 1800 259200 ${TTL}
@    NS  ns1
ns1  A   127.0.0.1
app  ${TTL} DYNA simplefo!app
`;

export const gdnsd: ServerUnderTest = {
  name: 'gdnsd simplefo',
  settings: `http_status interval ${GDNSD_MONITOR.interval}s, timeout ${GDNSD_MONITOR.timeout}s, down_thresh ${GDNSD_MONITOR.down_thresh}, up_thresh ${GDNSD_MONITOR.up_thresh}, ok_thresh ${GDNSD_MONITOR.ok_thresh}`,
  probeIntervalMs: GDNSD_MONITOR.interval * 1000,
  timeoutMs: 15_000,
  async start(ctx) {
    const dnsPort = await freePort();
    mkdirSync(join(ctx.dir, 'zones'));
    writeFileSync(join(ctx.dir, 'config'), config(ctx.dir, dnsPort, ctx.health));
    writeFileSync(join(ctx.dir, 'zones', ZONE), zone);
    return childServer(ctx.cleanup.spawn('gdnsd', 'gdnsd', ['-c', ctx.dir, 'start']), dnsPort);
  },
};

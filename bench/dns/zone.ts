// The one zone every server in the benchmark serves, so they all give the same answer.
export const ZONE = 'example.com';
export const TTL = 30;
export const NS = { name: 'ns1.example.com', address: '127.0.0.1' };
export const MBOX = 'hostmaster.example.com';
export const HOST = 'app.example.com';
/** Primary and secondary addresses: switchyard's two clusters, gdnsd's simplefo pair. Knot serves the primary only. */
export const PRIMARY = '127.0.0.2';
export const SECONDARY = '127.0.0.3';
export const SOA_TIMERS = { serial: 1, refresh: 3600, retry: 600, expire: 604800, negativeTtl: TTL };

/** RFC 1035 zone text; `app` is the TTL and record: a plain `30 A 127.0.0.2`, or gdnsd's DYNA line. */
export function zoneFile(appRecord: string): string {
  const t = SOA_TIMERS;
  return [
    `$ORIGIN ${ZONE}.`,
    `$TTL ${TTL}`,
    `@ SOA ${NS.name}. ${MBOX}. ${t.serial} ${t.refresh} ${t.retry} ${t.expire} ${t.negativeTtl}`,
    `@ NS ${NS.name}.`,
    `${NS.name}. A ${NS.address}`,
    `${HOST}. ${appRecord}`,
    '',
  ].join('\n');
}

/** dnsperf query files: the headline is the failover answer alone; `mix` adds the other common shapes. */
export const QUERY_SETS: Record<string, string[]> = {
  a: [`${HOST} A`],
  mix: [`${HOST} A`, `${HOST} A`, `${HOST} AAAA`, `${ZONE} SOA`, `${ZONE} NS`, `nothing-here.${ZONE} A`],
};

// zone.records served by the real `switchyard serve`, checked with dig and with Node's c-ares
// resolver: static records beside the failover hostname, a CNAME to it that follows a failover,
// a delegation answered with a referral and its glue, and invalid records refused by validate.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dig } from '../support/dig.ts';
import { startHealthEndpoint, type HealthEndpoint } from '../support/health-endpoint.ts';
import { runCli, startSwitchyard, writeFile, type SwitchyardProcess } from '../support/switchyard-process.ts';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const RECORDS = `
    - { name: example.com, type: MX, value: { preference: 10, exchange: mail.example.com } }
    - { name: example.com, type: TXT, value: "v=spf1 mx -all" }
    - { name: example.com, type: TXT, ttl: 300, value: ["google-site-verification=abc", "second string"] }
    - { name: example.com, type: CAA, value: { tag: issue, value: letsencrypt.org } }
    - { name: mail.example.com, type: A, value: 192.0.2.25 }
    - { name: mail.example.com, type: AAAA, value: "2001:db8::25" }
    - { name: www.example.com, type: CNAME, value: app.example.com }
    - { name: _imaps._tcp.example.com, type: SRV, value: { priority: 0, weight: 1, port: 993, target: mail.example.com } }
    - { name: sub.example.com, type: NS, value: ns1.sub.example.com }
    - { name: sub.example.com, type: NS, value: ns.other.net }
    - { name: ns1.sub.example.com, type: A, value: 192.0.2.53 }`;

const config = (east: string, west: string, records: string) => `
zone:
  name: example.com
  ttl: 20
  nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }]
  records:${records}
hostnames: [app.example.com]
clusters:
  - { name: east, addresses: [127.0.0.2], probes: [{ http: { url: "${east}" } }] }
  - { name: west, addresses: [127.0.0.3], probes: [{ http: { url: "${west}" } }] }
health: { interval: 300ms, timeout: 250ms, fall: 2, rise: 1, confirmInterval: 100ms }
failover: { cooldown: 0s }
dns: { listen: ["127.0.0.1:\${DNS_PORT}"], rateLimit: { responsesPerSecond: 0 } }
admin: { listen: "127.0.0.1:\${ADMIN_PORT}" }
`;

describe('zone.records', () => {
  let sy: SwitchyardProcess;
  let east: HealthEndpoint;
  let resolver: Resolver;
  before(async () => {
    east = await startHealthEndpoint('127.0.0.2');
    const west = await startHealthEndpoint('127.0.0.3');
    cleanups.push(() => east.kill(), () => west.kill());
    sy = await startSwitchyard({ config: config(east.url, west.url, RECORDS) });
    cleanups.push(() => sy.stop());
    resolver = new Resolver({ timeout: 2000, tries: 2 });
    resolver.setServers([`127.0.0.1:${sy.dnsPort}`]);
  });

  test('MX, TXT, CAA, SRV, A and AAAA are answered authoritatively, as configured (dig)', async () => {
    const mx = await dig(sy.dnsPort, ['example.com', 'MX', '+norec']);
    assert.equal(mx.status, 'NOERROR');
    assert.ok(mx.flags.includes('aa'));
    assert.deepEqual(mx.answers, ['example.com. 3600 IN MX 10 mail.example.com.']);
    assert.deepEqual((await dig(sy.dnsPort, ['example.com', 'MX', '+norec', '+tcp'])).answers, mx.answers, 'the same over TCP');
    const txt = await dig(sy.dnsPort, ['example.com', 'TXT', '+norec']);
    assert.deepEqual(txt.answers.sort(), ['example.com. 300 IN TXT "google-site-verification=abc" "second string"', 'example.com. 3600 IN TXT "v=spf1 mx -all"']);
    assert.deepEqual((await dig(sy.dnsPort, ['example.com', 'CAA', '+norec'])).answers, ['example.com. 3600 IN CAA 0 issue "letsencrypt.org"']);
    assert.deepEqual((await dig(sy.dnsPort, ['_imaps._tcp.example.com', 'SRV', '+norec'])).answers, ['_imaps._tcp.example.com. 3600 IN SRV 0 1 993 mail.example.com.']);
    assert.deepEqual((await dig(sy.dnsPort, ['mail.example.com', 'AAAA', '+norec'])).answers, ['mail.example.com. 3600 IN AAAA 2001:db8::25']);
    const nodata = await dig(sy.dnsPort, ['mail.example.com', 'MX', '+norec']);
    assert.equal(nodata.status, 'NOERROR');
    assert.deepEqual(nodata.answers, []);
    assert.match(nodata.authority[0], /^example\.com\. \d+ IN SOA /);
    assert.equal((await dig(sy.dnsPort, ['nope.example.com', 'A', '+norec'])).status, 'NXDOMAIN');
    assert.equal((await dig(sy.dnsPort, ['_tcp.example.com', 'A', '+norec'])).status, 'NOERROR', 'an empty non-terminal is NODATA');
    assert.deepEqual((await dig(sy.dnsPort, ['example.com', 'A', '+norec'])).answers, [], 'the apex has no address of its own');
  });

  test('c-ares reads the same records', async () => {
    assert.deepEqual(await resolver.resolveMx('example.com'), [{ priority: 10, exchange: 'mail.example.com' }]);
    assert.deepEqual((await resolver.resolveTxt('example.com')).map((t) => t.join('|')).sort(), ['google-site-verification=abc|second string', 'v=spf1 mx -all']);
    assert.deepEqual(await resolver.resolveSrv('_imaps._tcp.example.com'), [{ priority: 0, weight: 1, port: 993, name: 'mail.example.com' }]);
    assert.deepEqual(await resolver.resolve4('mail.example.com'), ['192.0.2.25']);
    assert.deepEqual(await resolver.resolveCaa('example.com'), [{ critical: 0, issue: 'letsencrypt.org' }]);
  });

  test('a CNAME to the failover hostname carries its current addresses, before and after a failover', async () => {
    const before = await dig(sy.dnsPort, ['www.example.com', 'A', '+norec']);
    assert.deepEqual(before.answers, ['www.example.com. 3600 IN CNAME app.example.com.', 'app.example.com. 20 IN A 127.0.0.2']);
    assert.deepEqual(await resolver.resolve4('www.example.com'), ['127.0.0.2']);
    east.mode = 'fail';
    let answers: string[] = [];
    for (let i = 0; i < 200; i++) {
      answers = (await dig(sy.dnsPort, ['www.example.com', 'A', '+norec'])).answers;
      if (answers.some((a) => a.endsWith('127.0.0.3'))) break;
      await sleep(50);
    }
    assert.deepEqual(answers.map((a) => a.replace(/ \d+ IN /, ' IN ')), ['www.example.com. IN CNAME app.example.com.', 'app.example.com. IN A 127.0.0.3']);
    assert.deepEqual((await dig(sy.dnsPort, ['www.example.com', 'MX', '+norec'])).answers, ['www.example.com. 3600 IN CNAME app.example.com.']);
  });

  test('a delegated subzone gets a referral with glue, not an authoritative answer', async () => {
    for (const name of ['sub.example.com', 'host.sub.example.com', 'a.b.sub.example.com', 'ns1.sub.example.com']) {
      const r = await dig(sy.dnsPort, [name, 'A', '+norec']);
      assert.equal(r.status, 'NOERROR', name);
      assert.ok(!r.flags.includes('aa'), `${name}: the referral is not authoritative`);
      assert.deepEqual(r.answers, [], name);
      assert.deepEqual(r.authority.sort(), ['sub.example.com. 3600 IN NS ns.other.net.', 'sub.example.com. 3600 IN NS ns1.sub.example.com.'], name);
      assert.deepEqual(r.additional.filter((l) => !l.includes('OPT')), ['ns1.sub.example.com. 3600 IN A 192.0.2.53'], name);
    }
    const ds = await dig(sy.dnsPort, ['sub.example.com', 'DS', '+norec']);
    assert.ok(ds.flags.includes('aa'), 'DS at the cut is the parent\'s: authoritative NODATA');
    assert.deepEqual(ds.answers, []);
    assert.equal((await dig(sy.dnsPort, ['other.org', 'A', '+norec'])).status, 'REFUSED');
  });
});

test('validate refuses records that would break the zone, naming each key path', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'swy-records-'));
  const bad = `
    - { name: app.example.com, type: TXT, value: "x" }
    - { name: www.example.com, type: CNAME, value: app.example.com }
    - { name: www.example.com, type: A, value: 192.0.2.1 }
    - { name: mail.other.org, type: A, value: 192.0.2.2 }
    - { name: example.com, type: NS, value: ns9.example.com }
    - { name: sub.example.com, type: NS, value: ns1.sub.example.com }
    - { name: www.sub.example.com, type: A, value: 192.0.2.3 }
    - { name: example.com, type: MX, value: { preference: 99999, exchange: mail.example.com } }
    - { name: example.com, type: A, value: "2001:db8::1" }
    - { name: example.com, type: TXT, value: "${'x'.repeat(256)}" }
    - { name: example.com, type: PTR, value: x.example.com }`;
  const file = writeFile(dir, 'bad.yaml', config('http://127.0.0.2:1/h', 'http://127.0.0.3:1/h', bad));
  const r = await runCli(['validate', '--config', file], { env: { DNS_PORT: '53', ADMIN_PORT: '9090' } });
  assert.equal(r.code, 2, r.stdout);
  const expect = [
    /^SWY_CONFIG_INVALID zone\.records\[0\]\.name: app\.example\.com is a failover hostname/m,
    /^SWY_CONFIG_INVALID zone\.records\[1\]: a CNAME must be the only record at www\.example\.com, which also has A$/m,
    /^SWY_CONFIG_INVALID zone\.records\[3\]\.name: mail\.other\.org is not inside zone example\.com$/m,
    /^SWY_CONFIG_INVALID zone\.records\[4\]\.name: the zone's own NS records come from zone\.nameservers/m,
    /^SWY_CONFIG_INVALID zone\.records\[5\]\.value: ns1\.sub\.example\.com is inside the delegated zone sub\.example\.com and needs glue/m,
    /^SWY_CONFIG_INVALID zone\.records\[6\]: www\.sub\.example\.com is inside the delegated zone sub\.example\.com: only the glue/m,
    /^SWY_CONFIG_INVALID zone\.records\[7\]\.value\.preference: 99999 is out of range 0\.\.65535$/m,
    /^SWY_CONFIG_INVALID zone\.records\[8\]\.value: "2001:db8::1" is not an IPv4 address$/m,
    /^SWY_CONFIG_INVALID zone\.records\[9\]\.value: is 256 bytes; a TXT string holds at most 255/m,
    /^SWY_CONFIG_INVALID zone\.records\[10\]\.type: "PTR" is not one of A, AAAA, CNAME, MX, TXT, SRV, CAA, NS$/m,
  ];
  for (const e of expect) assert.match(r.stderr, e);
});

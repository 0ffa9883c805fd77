// Whole-process DNS tests: the real `switchyard serve`, queried over UDP and TCP, IPv4 and IPv6,
// by two independent clients: dig (spawned) and Node's c-ares resolver (dns.promises.Resolver).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as dnsPromises } from 'node:dns';
import { createSocket } from 'node:dgram';
import fc from 'fast-check';
import { buildQuery, decode, tcpExchange, udpExchange } from '../support/dns-client.ts';
import { startSwitchyard, type SwitchyardProcess } from '../support/switchyard-process.ts';

const TOKEN = 'e2e-dns-token';

interface Rr { name: string; ttl: number; cls: string; type: string; data: string }
interface Dig {
  status: string; opcode: string; id: number; flags: string[];
  counts: { query: number; answer: number; authority: number; additional: number };
  edns: { version: number; udp: number } | null;
  question: string[]; answer: Rr[]; authority: Rr[]; additional: Rr[]; transport: string; raw: string;
}

/** Runs dig against the server and parses what it printed. dig missing is a failure, never a skip. */
function dig(port: number, args: string[], host = '127.0.0.1'): Promise<Dig> {
  return new Promise((resolve, reject) => {
    execFile('dig', [`@${host}`, '-p', String(port), '+time=2', '+tries=1', ...args], { timeout: 15_000 }, (err, stdout) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') { reject(new Error('dig not found: install dnsutils')); return; }
      const header = /->>HEADER<<- opcode: (\w+), status: (\w+), id: (\d+)/.exec(stdout);
      if (!header) { reject(new Error(`dig got no answer (${err?.message ?? 'no header'}):\n${stdout}`)); return; }
      const flagLine = /;; flags:([a-z ]*); QUERY: (\d+), ANSWER: (\d+), AUTHORITY: (\d+), ADDITIONAL: (\d+)/.exec(stdout)!;
      const edns = /; EDNS: version: (\d+), flags:[a-z ]*; udp: (\d+)/.exec(stdout);
      const section = (name: string) => {
        const m = new RegExp(`;; ${name} SECTION:\\n([\\s\\S]*?)(?:\\n\\n|$)`).exec(stdout);
        return m ? m[1].split('\n').filter((l) => l.trim() !== '') : [];
      };
      const records = (name: string): Rr[] => section(name).map((l) => {
        const [owner, ttl, cls, type, ...data] = l.trim().split(/\s+/);
        return { name: owner, ttl: Number(ttl), cls, type, data: data.join(' ') };
      });
      resolve({
        opcode: header[1], status: header[2], id: Number(header[3]),
        flags: flagLine[1].trim().split(/\s+/).filter(Boolean),
        counts: { query: Number(flagLine[2]), answer: Number(flagLine[3]), authority: Number(flagLine[4]), additional: Number(flagLine[5]) },
        edns: edns ? { version: Number(edns[1]), udp: Number(edns[2]) } : null,
        question: section('QUESTION'), answer: records('ANSWER'), authority: records('AUTHORITY'), additional: records('ADDITIONAL'),
        transport: /;; SERVER: .*\((UDP|TCP)\)/.exec(stdout)?.[1] ?? '', raw: stdout,
      });
    });
  });
}

function resolver(port: number, host = '127.0.0.1') {
  const r = new dnsPromises.Resolver({ timeout: 1500, tries: 2 });
  r.setServers([host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`]);
  return r;
}

async function errorCode(p: Promise<unknown>): Promise<string> {
  try { await p; } catch (err) { return (err as NodeJS.ErrnoException).code ?? String(err); }
  return 'no error';
}

const config = (extra: { addresses?: string; dns?: string } = {}) => `
zone:
  name: example.com
  ttl: 30
  nameservers:
    - { name: ns1.example.com, address: 127.0.0.1 }
    - { name: ns2.example.com, address: "::1" }
  soa: { negativeTtl: 20 }
hostnames: [app.example.com, api.eu.example.com]
clusters:
  - name: east
    addresses: ${extra.addresses ?? '[127.0.0.2, "2001:db8::2"]'}
    probes: [{ tcp: { address: "127.0.0.1:\${ADMIN_PORT}" } }]
  - name: west
    addresses: [127.0.0.3]
    probes: [{ tcp: { address: "127.0.0.1:\${ADMIN_PORT}" } }]
health: { interval: 1s, timeout: 500ms, fall: 3, rise: 2 }
failover: { automatic: false, cooldown: 0s, steps: [switch-traffic] }
dns: { listen: ["127.0.0.1:\${DNS_PORT}", "[::1]:\${DNS_PORT}"]${extra.dns ?? ''} }
admin: { listen: "127.0.0.1:\${ADMIN_PORT}" }
state: { file: ./state.json }
`;

async function metricsText(sy: SwitchyardProcess): Promise<string> {
  return (await fetch(`${sy.adminUrl}/metrics`)).text();
}
function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('switchyard serve: authoritative DNS', { timeout: 180_000 }, () => {
  let sy: SwitchyardProcess;
  let port: number;
  before(async () => {
    sy = await startSwitchyard({ config: config(), env: { SWITCHYARD_ADMIN_TOKEN: TOKEN } });
    port = sy.dnsPort;
  });
  after(async () => {
    const code = await sy.stop();
    assert.equal(code, 0, `clean exit on SIGTERM\n${sy.logs().slice(-3000)}`);
  });

  test('A and AAAA at a hostname over UDP and TCP, IPv4 and IPv6: TTL 30, AA, RD copied, RA clear', async () => {
    for (const [host, transport] of [['127.0.0.1', '+notcp'], ['127.0.0.1', '+tcp'], ['::1', '+notcp'], ['::1', '+tcp']]) {
      const a = await dig(port, ['app.example.com', 'A', transport], host);
      assert.equal(a.status, 'NOERROR');
      assert.equal(a.transport, transport === '+tcp' ? 'TCP' : 'UDP');
      assert.deepEqual(a.answer.map((r) => [r.type, r.data, r.ttl]), [['A', '127.0.0.2', 30]]);
      assert.deepEqual(a.flags.sort(), ['aa', 'qr', 'rd'], `${host} ${transport}`);
      const aaaa = await dig(port, ['app.example.com', 'AAAA', transport, '+norec'], host);
      assert.deepEqual(aaaa.answer.map((r) => [r.type, r.data]), [['AAAA', '2001:db8::2']]);
      assert.deepEqual(aaaa.flags.sort(), ['aa', 'qr'], 'RD clear stays clear');
    }
    const v4 = resolver(port);
    assert.deepEqual(await v4.resolve4('app.example.com', { ttl: true }), [{ address: '127.0.0.2', ttl: 30 }]);
    assert.deepEqual(await resolver(port, '::1').resolve6('api.eu.example.com'), ['2001:db8::2']);
  });

  test('names match case-insensitively and the question is echoed byte for byte (0x20)', async () => {
    const r = await dig(port, ['ApP.ExAmPlE.CoM', 'A', '+norec']);
    assert.equal(r.question[0].split(/\s+/)[0], ';ApP.ExAmPlE.CoM.');
    assert.equal(r.answer[0].name, 'ApP.ExAmPlE.CoM.');
    assert.deepEqual(await resolver(port).resolve4('APP.EXAMPLE.COM'), ['127.0.0.2']);
  });

  test('NODATA: no record of the type at an existing name, or an empty non-terminal: NOERROR, SOA with the negative TTL', async () => {
    for (const args of [['app.example.com', 'MX'], ['eu.example.com', 'A'], ['eu.example.com', 'A', '+tcp'], ['example.com', 'A']]) {
      const r = await dig(port, [...args, '+norec']);
      assert.equal(r.status, 'NOERROR', args.join(' '));
      assert.equal(r.answer.length, 0);
      assert.deepEqual(r.authority.map((x) => [x.name, x.type, x.ttl]), [['example.com.', 'SOA', 20]], args.join(' '));
      assert.ok(r.flags.includes('aa'));
    }
    assert.equal(await errorCode(resolver(port).resolveMx('app.example.com')), 'ENODATA');
    assert.equal(await errorCode(resolver(port).resolve4('eu.example.com')), 'ENODATA');
  });

  test('NXDOMAIN with the SOA inside the zone; REFUSED outside; never recursion', async () => {
    for (const transport of ['+notcp', '+tcp']) {
      const nx = await dig(port, ['nope.example.com', 'A', transport]);
      assert.equal(nx.status, 'NXDOMAIN');
      assert.deepEqual(nx.authority.map((x) => [x.type, x.ttl, x.data.split(' ').slice(0, 2).join(' ')]), [['SOA', 20, 'ns1.example.com. hostmaster.example.com.']]);
      const refused = await dig(port, ['www.example.org', 'A', transport]);
      assert.equal(refused.status, 'REFUSED');
      assert.equal(refused.answer.length + refused.authority.length, 0);
      assert.ok(!refused.flags.includes('ra') && !refused.flags.includes('aa'));
    }
    assert.equal(await errorCode(resolver(port).resolve4('x.app.example.com')), 'ENOTFOUND');
    assert.equal(await errorCode(resolver(port).resolve4('www.example.org')), 'EREFUSED');
    assert.equal(await errorCode(resolver(port).resolve4('example.com.evil')), 'EREFUSED');
  });

  test('apex SOA and NS with glue A and AAAA for the in-zone nameservers', async () => {
    const soa = await dig(port, ['example.com', 'SOA']);
    assert.equal(soa.answer[0].type, 'SOA');
    assert.match(soa.answer[0].data, /^ns1\.example\.com\. hostmaster\.example\.com\. \d+ 3600 600 604800 20$/);
    const ns = await dig(port, ['example.com', 'NS', '+tcp']);
    assert.deepEqual(ns.answer.map((r) => r.data).sort(), ['ns1.example.com.', 'ns2.example.com.']);
    assert.deepEqual(ns.additional.map((r) => `${r.name} ${r.type} ${r.data}`).sort(), ['ns1.example.com. A 127.0.0.1', 'ns2.example.com. AAAA ::1']);
    const c = resolver(port);
    const cSoa = await c.resolveSoa('example.com');
    assert.equal(cSoa.nsname, 'ns1.example.com');
    assert.equal(cSoa.hostmaster, 'hostmaster.example.com');
    assert.equal(cSoa.minttl, 20);
    assert.deepEqual((await c.resolveNs('example.com')).sort(), ['ns1.example.com', 'ns2.example.com']);
    assert.deepEqual(await c.resolve4('ns1.example.com'), ['127.0.0.1']);
  });

  test('ANY: a minimal answer (RFC 8482): the address records of a hostname, the SOA at the apex', async () => {
    const any = await dig(port, ['app.example.com', 'ANY']);
    assert.deepEqual(any.answer.map((r) => `${r.type} ${r.data}`).sort(), ['A 127.0.0.2', 'AAAA 2001:db8::2']);
    assert.deepEqual((await dig(port, ['example.com', 'ANY'])).answer.map((r) => r.type), ['SOA']);
    const records = await resolver(port).resolveAny('app.example.com');
    assert.deepEqual(records.map((r) => r.type).sort(), ['A', 'AAAA']);
  });

  test('EDNS(0): OPT only when asked, our size 1232 whatever the requestor asks, BADVERS above version 0', async () => {
    assert.deepEqual((await dig(port, ['app.example.com'])).edns, { version: 0, udp: 1232 });
    assert.deepEqual((await dig(port, ['app.example.com', '+bufsize=4096'])).edns, { version: 0, udp: 1232 });
    const plain = await dig(port, ['app.example.com', '+noedns']);
    assert.equal(plain.edns, null);
    assert.equal(plain.counts.additional, 0);
    const badvers = await dig(port, ['app.example.com', '+edns=1', '+noednsneg']);
    assert.equal(badvers.status, 'BADVERS');
    assert.equal(badvers.answer.length, 0);
    assert.deepEqual(badvers.edns, { version: 0, udp: 1232 });
  });

  test('opcode other than QUERY: NOTIMP; no question: FORMERR; class CH: REFUSED; AXFR: REFUSED', async () => {
    const notimp = await dig(port, ['app.example.com', '+opcode=2']);
    assert.equal(notimp.status, 'NOTIMP');
    assert.equal(notimp.opcode, 'STATUS');
    assert.equal((await dig(port, ['+header-only'])).status, 'FORMERR');
    assert.equal((await dig(port, ['+header-only', '+tcp'])).status, 'FORMERR');
    assert.equal((await dig(port, ['version.bind', 'TXT', 'CH'])).status, 'REFUSED');
    assert.equal((await dig(port, ['app.example.com', 'A', 'CH', '+tcp'])).status, 'REFUSED');
    assert.match((await new Promise<string>((resolve) => execFile('dig', ['@127.0.0.1', '-p', String(port), '+time=2', '+tries=1', 'example.com', 'AXFR'], (_e, out) => resolve(out)))), /Transfer failed/);
  });

  test('TCP (RFC 7766): several queries on one connection with dig +keepopen, and pipelined in one write', async () => {
    const r = await new Promise<string>((resolve, reject) => execFile('dig', ['@127.0.0.1', '-p', String(port), '+tcp', '+keepopen', '+time=2', '+tries=1',
      'app.example.com', 'A', 'example.com', 'SOA', 'nope.example.com', 'A'], (e, out) => (out ? resolve(out) : reject(e))));
    assert.deepEqual([...r.matchAll(/status: (\w+)/g)].map((m) => m[1]), ['NOERROR', 'NOERROR', 'NXDOMAIN']);
    const replies = await tcpExchange(port, [1, 2, 3, 4, 5].map((id) => buildQuery({ id, name: id % 2 ? 'app.example.com' : 'nope.example.com' })));
    assert.deepEqual(replies.map((b) => [decode(b).header.id, decode(b).header.rcode]), [[1, 0], [2, 3], [3, 0], [4, 3], [5, 0]]);
  });

  test('no reply to short messages or responses; garbage over UDP and TCP leaves it answering with bounded memory', async () => {
    assert.equal(await udpExchange(port, Buffer.from('0102030405', 'hex'), { timeoutMs: 300 }), null);
    assert.equal(await udpExchange(port, buildQuery({ name: 'app.example.com', qr: true }), { timeoutMs: 300 }), null);
    const rssBefore = metricValue(await metricsText(sy), 'switchyard_process_resident_memory_bytes');
    const packets = fc.sample(fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      fc.tuple(fc.constantFrom(buildQuery({ name: 'app.example.com', edns: {} }), buildQuery({ name: 'example.com', type: 2 })), fc.nat(), fc.integer({ min: 0, max: 255 }))
        .map(([b, i, v]) => { const c = Buffer.from(b); c[i % c.length] = v; return c; }),
    ), { numRuns: 3000, seed: 7 });
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.9.9', r));   // its own /24: rate limiting must not hit dig
    for (let i = 0; i < packets.length; i += 100) {
      for (const p of packets.slice(i, i + 100)) s.send(p, port, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 5));
    }
    s.close();
    await tcpExchange(port, packets.slice(0, 300), { timeoutMs: 1000 });
    const after = await dig(port, ['app.example.com', '+tcp']);
    assert.deepEqual(after.answer.map((r) => r.data), ['127.0.0.2']);
    assert.deepEqual(await resolver(port).resolve4('app.example.com'), ['127.0.0.2']);
    const text = await metricsText(sy);
    const growth = (metricValue(text, 'switchyard_process_resident_memory_bytes') - rssBefore) / 2 ** 20;
    assert.ok(growth < 64, `RSS grew ${growth.toFixed(1)} MiB`);
    assert.ok(metricValue(text, 'switchyard_dns_dropped_total{reason="short"}') >= 1);
    assert.ok(metricValue(text, 'switchyard_dns_dropped_total{reason="response"}') >= 1);
  });

  test('metrics: queries by type, rcode and transport; answer-table generation; no per-query logs', async () => {
    const text = await metricsText(sy);
    assert.ok(metricValue(text, 'switchyard_dns_queries_total{qtype="A",rcode="NOERROR",transport="udp"}') >= 4);
    assert.ok(metricValue(text, 'switchyard_dns_queries_total{qtype="A",rcode="NXDOMAIN",transport="tcp"}') >= 1);
    assert.ok(metricValue(text, 'switchyard_dns_queries_total{qtype="A",rcode="REFUSED",transport="udp"}') >= 1);
    assert.ok(metricValue(text, 'switchyard_dns_answer_table_generation') >= 1);
    const lines = sy.logs().split('\n').filter((l) => l.includes('app.example.com') && !l.includes('serving'));
    assert.deepEqual(lines, [], 'no log line per query');
  });

  test('a failover through the admin API swaps the answers (generation and SOA serial move with it)', async () => {
    const serial = Number((await dig(port, ['example.com', 'SOA'])).answer[0].data.split(' ')[2]);
    const res = await fetch(`${sy.adminUrl}/v1/failover`, {
      method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ to: 'west', reason: 'e2e: dns answers follow routing', force: true }),
    });
    assert.ok(res.ok, `failover accepted: ${res.status} ${await res.text()}`);
    const deadline = Date.now() + 10_000;
    let answers: string[] = [];
    while (Date.now() < deadline) {
      answers = (await dig(port, ['app.example.com', '+norec'])).answer.map((r) => r.data);
      if (answers[0] === '127.0.0.3') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(answers, ['127.0.0.3'], `answers moved to west\n${sy.logs().slice(-3000)}`);
    assert.deepEqual(await resolver(port).resolve4('app.example.com'), ['127.0.0.3']);
    assert.equal(await errorCode(resolver(port).resolve6('app.example.com')), 'ENODATA', 'west has no IPv6 address');
    assert.ok(Number((await dig(port, ['example.com', 'SOA', '+tcp'])).answer[0].data.split(' ')[2]) > serial);
    const text = await metricsText(sy);
    assert.equal(metricValue(text, 'switchyard_dns_answer_table_generation'), metricValue(text, 'switchyard_routing_generation'));
  });
});

describe('switchyard serve: a large answer is truncated over UDP and complete over TCP', { timeout: 120_000 }, () => {
  let sy: SwitchyardProcess;
  const addresses = Array.from({ length: 80 }, (_, i) => `10.1.${i >> 8}.${i & 255}`);
  before(async () => { sy = await startSwitchyard({ config: config({ addresses: `[${addresses.join(', ')}]`, dns: ', maxUdpSize: 1232' }) }); });
  after(async () => { assert.equal(await sy.stop(), 0); });

  test('TC=1 with the question only when it does not fit the UDP size; dig and c-ares fall back to TCP', async () => {
    for (const args of [['+noedns'], ['+bufsize=512'], ['+bufsize=1232']]) {
      const r = await dig(sy.dnsPort, ['app.example.com', '+ignore', ...args]);
      assert.ok(r.flags.includes('tc'), `${args.join(' ')}: TC set`);
      assert.equal(r.answer.length, 0);
      assert.equal(r.counts.query, 1);
    }
    // The requestor offers 4096 but the server caps at dns.maxUdpSize (1232): truncated, and dig retries over TCP.
    const big = await dig(sy.dnsPort, ['app.example.com', '+bufsize=4096']);
    assert.equal(big.transport, 'TCP');
    assert.ok(!big.flags.includes('tc'));
    assert.equal(big.answer.length, 80);
    assert.equal((await dig(sy.dnsPort, ['app.example.com', '+tcp'])).answer.length, 80);
    assert.deepEqual((await resolver(sy.dnsPort).resolve4('app.example.com')).sort(), [...addresses].sort());
  });
});

describe('switchyard serve: response rate limiting', { timeout: 120_000 }, () => {
  let sy: SwitchyardProcess;
  before(async () => { sy = await startSwitchyard({ config: config({ dns: ', rateLimit: { responsesPerSecond: 5, slip: 2, window: 10s }' }) }); });
  after(async () => { assert.equal(await sy.stop(), 0); });

  test('beyond the rate a source prefix gets every other reply truncated and the rest dropped; TCP and c-ares still get answers', async () => {
    const s = createSocket('udp4');
    const replies: Buffer[] = [];
    s.on('message', (m) => replies.push(m));
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
    for (let id = 0; id < 25; id++) s.send(buildQuery({ id, name: 'app.example.com' }), sy.dnsPort, '127.0.0.1');
    for (let i = 0; i < 100 && replies.length < 15; i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 200));
    s.close();
    const decoded = replies.map(decode);
    assert.equal(decoded.filter((p) => p.header.tc === 0).length, 5, 'the first 5 are answered');
    assert.equal(decoded.filter((p) => p.header.tc === 1).length, 10, 'half of the 20 limited replies slip');
    // Still limited: of the next two, one slips (TC=1, no answer) and the other is dropped (dig times out).
    const first = await dig(sy.dnsPort, ['app.example.com', '+ignore']).catch((e: Error) => e);
    const second = await dig(sy.dnsPort, ['app.example.com', '+ignore']).catch((e: Error) => e);
    const outcomes = [first, second].map((r) => (r instanceof Error ? 'dropped' : r.flags.includes('tc') ? 'slipped' : 'answered')).sort();
    assert.deepEqual(outcomes, ['dropped', 'slipped']);
    assert.deepEqual((await dig(sy.dnsPort, ['app.example.com', '+tcp'])).answer.map((r) => r.data), ['127.0.0.2'], 'TCP is never limited');
    assert.deepEqual(await resolver(sy.dnsPort).resolve4('app.example.com'), ['127.0.0.2'], 'c-ares retries over TCP after a slip');
    const text = await metricsText(sy);
    assert.ok(metricValue(text, 'switchyard_dns_dropped_total{reason="ratelimited"}') >= 10);
    assert.ok(metricValue(text, 'switchyard_dns_ratelimit_slipped_total') >= 10);
    assert.equal(metricValue(text, 'switchyard_dns_ratelimit_entries'), 1);
  });
});

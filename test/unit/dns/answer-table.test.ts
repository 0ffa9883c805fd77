import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INFRASTRUCTURE_TTL, buildAnswerTable, lookup, type AnswerTable } from '../../../src/dns/answer-table.ts';
import { answerTtl } from '../../../src/dns/ttl.ts';
import { TYPE, assembleReply, createQuery, parseQuery, udpLimit } from '../../../src/dns/wire.ts';
import { isSwitchyardError } from '../../../src/errors.ts';
import { buildQuery, decode, type QueryOptions } from '../../support/dns-client.ts';
import { cluster, clusters, hostnames, zone } from '../../support/dns-fixtures.ts';

const table = buildAnswerTable({ zone, hostnames, clusters }, { active: 'east', generation: 7, state: 'steady' });

function ask(t: AnswerTable, o: QueryOptions) {
  const q = createQuery();
  const msg = buildQuery(o);
  parseQuery(msg, q);
  return { reply: decode(assembleReply(msg, q, lookup(t, q), udpLimit(q, 1232), false, 1232, 0)), msg };
}

const soaOf = (rrs: Array<{ type: number }>) => rrs.find((r) => r.type === TYPE.SOA) as { name: string; ttl: number; serial: number; minimum: number; primary: string; admin: string } | undefined;

const cases: Array<{ name: string; q: QueryOptions; rcode: number; aa: 0 | 1; answers: string[]; authority?: 'SOA'; additional?: string[] }> = [
  { name: 'A at a hostname', q: { name: 'app.example.com' }, rcode: 0, aa: 1, answers: ['A 192.0.2.1', 'A 192.0.2.2'] },
  { name: 'AAAA at a hostname', q: { name: 'app.example.com', type: TYPE.AAAA }, rcode: 0, aa: 1, answers: ['AAAA 2001:db8::1'] },
  { name: 'MX at a hostname: NODATA', q: { name: 'app.example.com', type: 15 }, rcode: 0, aa: 1, answers: [], authority: 'SOA' },
  { name: 'ANY at a hostname: the address sets (RFC 8482)', q: { name: 'app.example.com', type: TYPE.ANY }, rcode: 0, aa: 1, answers: ['A 192.0.2.1', 'A 192.0.2.2', 'AAAA 2001:db8::1'] },
  { name: 'deeper hostname', q: { name: 'api.eu.example.com' }, rcode: 0, aa: 1, answers: ['A 192.0.2.1', 'A 192.0.2.2'] },
  { name: 'empty non-terminal: NODATA', q: { name: 'eu.example.com' }, rcode: 0, aa: 1, answers: [], authority: 'SOA' },
  { name: 'empty non-terminal, ANY: NODATA', q: { name: 'eu.example.com', type: TYPE.ANY }, rcode: 0, aa: 1, answers: [], authority: 'SOA' },
  { name: 'name under a hostname: NXDOMAIN', q: { name: 'x.app.example.com' }, rcode: 3, aa: 1, answers: [], authority: 'SOA' },
  { name: 'unknown name in the zone: NXDOMAIN', q: { name: 'nope.example.com', type: TYPE.AAAA }, rcode: 3, aa: 1, answers: [], authority: 'SOA' },
  { name: 'apex SOA', q: { name: 'example.com', type: TYPE.SOA }, rcode: 0, aa: 1, answers: ['SOA ns1.example.com'] },
  { name: 'apex NS with in-zone glue', q: { name: 'example.com', type: TYPE.NS }, rcode: 0, aa: 1, answers: ['NS ns1.example.com', 'NS ns2.example.com', 'NS ns.example.net'], additional: ['A ns1.example.com 192.0.2.53', 'AAAA ns2.example.com 2001:db8::53'] },
  { name: 'apex A: NODATA', q: { name: 'example.com' }, rcode: 0, aa: 1, answers: [], authority: 'SOA' },
  { name: 'apex ANY: the SOA', q: { name: 'example.com', type: TYPE.ANY }, rcode: 0, aa: 1, answers: ['SOA ns1.example.com'] },
  { name: 'nameserver address', q: { name: 'ns1.example.com' }, rcode: 0, aa: 1, answers: ['A 192.0.2.53'] },
  { name: 'nameserver, other family: NODATA', q: { name: 'ns1.example.com', type: TYPE.AAAA }, rcode: 0, aa: 1, answers: [], authority: 'SOA' },
  { name: 'outside the zone: REFUSED', q: { name: 'example.net' }, rcode: 5, aa: 0, answers: [] },
  { name: 'suffix but not a label boundary: REFUSED', q: { name: 'badexample.com' }, rcode: 5, aa: 0, answers: [] },
  { name: 'root: REFUSED', q: { name: '', type: TYPE.NS }, rcode: 5, aa: 0, answers: [] },
  { name: 'class CH: REFUSED', q: { name: 'app.example.com', qclass: 3 }, rcode: 5, aa: 0, answers: [] },
  { name: 'class ANY: REFUSED', q: { name: 'app.example.com', qclass: 255 }, rcode: 5, aa: 0, answers: [] },
  { name: 'AXFR: REFUSED', q: { name: 'example.com', type: TYPE.AXFR }, rcode: 5, aa: 0, answers: [] },
  { name: 'IXFR: REFUSED', q: { name: 'example.com', type: TYPE.IXFR }, rcode: 5, aa: 0, answers: [] },
  { name: 'OPT as the query type: FORMERR', q: { name: 'app.example.com', type: TYPE.OPT }, rcode: 1, aa: 0, answers: [] },
];

const show = (r: { type: number; address?: string; ns?: string; primary?: string; name: string }, withOwner: boolean) =>
  r.type === TYPE.A || r.type === TYPE.AAAA ? `${r.type === TYPE.A ? 'A' : 'AAAA'} ${withOwner ? `${r.name} ` : ''}${r.address}`
    : r.type === TYPE.NS ? `NS ${r.ns}` : r.type === TYPE.SOA ? `SOA ${r.primary}` : `TYPE${r.type}`;

test('answer table: table of questions and replies', () => {
  for (const c of cases) {
    const { reply } = ask(table, c.q);
    assert.equal(reply.errors.length, 0, `${c.name}: decodes cleanly`);
    assert.equal(reply.header.rcode, c.rcode, `${c.name}: rcode`);
    assert.equal(reply.header.aa, c.aa, `${c.name}: AA`);
    assert.equal(reply.header.ra, 0, `${c.name}: RA`);
    assert.equal(reply.questions.length, 1, `${c.name}: question echoed`);
    assert.deepEqual(reply.answers.map((r) => show(r, false)), c.answers, `${c.name}: answers`);
    assert.deepEqual(reply.authorities.map((r) => show(r, false)), c.authority ? ['SOA ns1.example.com'] : [], `${c.name}: authority`);
    assert.deepEqual(reply.additionals.map((r) => show(r, true)), c.additional ?? [], `${c.name}: additional`);
  }
});

test('answer TTLs: hostnames zone.ttl, zone records INFRASTRUCTURE_TTL, negative min(SOA TTL, negativeTtl) (RFC 2308)', () => {
  assert.deepEqual(ask(table, { name: 'app.example.com' }).reply.answers.map((r) => r.ttl), [30, 30]);
  assert.equal(ask(table, { name: 'example.com', type: TYPE.NS }).reply.answers[0].ttl, INFRASTRUCTURE_TTL);
  assert.equal(ask(table, { name: 'example.com', type: TYPE.NS }).reply.additionals[0].ttl, INFRASTRUCTURE_TTL);
  assert.equal(soaOf(ask(table, { name: 'example.com', type: TYPE.SOA }).reply.answers)!.ttl, INFRASTRUCTURE_TTL);
  for (const q of [{ name: 'nope.example.com' }, { name: 'app.example.com', type: 16 }]) {
    const soa = soaOf(ask(table, q).reply.authorities)!;
    assert.equal(soa.ttl, 45, q.name);
    assert.equal(soa.minimum, 45);
  }
  const longNegative = buildAnswerTable({ zone: { ...zone, soa: { ...zone.soa, negativeTtl: 86400 } }, hostnames, clusters }, { active: 'east', generation: 1, state: 'steady' });
  assert.equal(soaOf(ask(longNegative, { name: 'nope.example.com' }).reply.authorities)!.ttl, INFRASTRUCTURE_TTL);
});

test('SOA fields: primary is the first nameserver, mbox, serial is the routing generation', () => {
  const soa = soaOf(ask(table, { name: 'example.com', type: TYPE.SOA }).reply.answers)!;
  assert.equal(soa.name, 'example.com');
  assert.equal(soa.primary, 'ns1.example.com');
  assert.equal(soa.admin, 'hostmaster.example.com');
  assert.equal(soa.serial, 7);
  assert.equal(table.generation, 7);
});

test('names match case-insensitively and the question comes back byte for byte (0x20)', () => {
  for (const name of ['APP.EXAMPLE.COM', 'aPp.ExAmPlE.cOm', 'Nope.Example.Com', 'EU.example.COM']) {
    const q = createQuery();
    const msg = buildQuery({ name });
    parseQuery(msg, q);
    const raw = assembleReply(msg, q, lookup(table, q), 512, false, 1232, 0);
    assert.deepEqual(raw.subarray(12, q.questionEnd), msg.subarray(12, q.questionEnd), name);
    assert.equal(decode(raw).questions[0].name, name);
  }
  assert.equal(ask(table, { name: 'APP.EXAMPLE.COM' }).reply.answers.length, 2);
});

test('a cluster with only IPv4 gives NODATA for AAAA; the table follows the active cluster', () => {
  const west = buildAnswerTable({ zone, hostnames, clusters }, { active: 'west', generation: 8, state: 'steady' });
  assert.deepEqual(ask(west, { name: 'app.example.com' }).reply.answers.map((r) => r.address), ['198.51.100.1']);
  const aaaa = ask(west, { name: 'app.example.com', type: TYPE.AAAA }).reply;
  assert.equal(aaaa.header.rcode, 0);
  assert.equal(aaaa.answers.length, 0);
  assert.equal(soaOf(aaaa.authorities)!.serial, 8);
  assert.deepEqual(ask(west, { name: 'app.example.com', type: TYPE.ANY }).reply.answers.map((r) => r.address), ['198.51.100.1']);
});

test('the apex can be a hostname; a hostname that is also a nameserver serves (and glues) the cluster addresses', () => {
  const t = buildAnswerTable({ zone, hostnames: ['example.com', 'ns1.example.com'], clusters }, { active: 'west', generation: 1, state: 'steady' });
  assert.deepEqual(ask(t, { name: 'example.com' }).reply.answers.map((r) => r.address), ['198.51.100.1']);
  assert.deepEqual(ask(t, { name: 'example.com', type: TYPE.ANY }).reply.answers.map((r) => r.address), ['198.51.100.1']);
  assert.deepEqual(ask(t, { name: 'ns1.example.com' }).reply.answers.map((r) => [r.address, r.ttl]), [['198.51.100.1', 30]]);
  assert.deepEqual(ask(t, { name: 'example.com', type: TYPE.NS }).reply.additionals.map((r) => show(r, true)), ['A ns1.example.com 198.51.100.1', 'AAAA ns2.example.com 2001:db8::53']);
});

test('buildAnswerTable refuses an unknown active cluster and hostnames outside the zone (SWY_DNS_ANSWER_TABLE)', () => {
  assert.throws(() => buildAnswerTable({ zone, hostnames, clusters }, { active: 'north', generation: 1, state: 'steady' }), (e) => isSwitchyardError(e, 'SWY_DNS_ANSWER_TABLE') && /north/.test(e.message));
  assert.throws(() => buildAnswerTable({ zone, hostnames: ['app.example.org'], clusters }, { active: 'east', generation: 1, state: 'steady' }), (e) => isSwitchyardError(e, 'SWY_DNS_ANSWER_TABLE') && /app\.example\.org/.test(e.message));
});

test('many addresses: the reply is truncated over plain UDP and complete with EDNS or TCP', () => {
  const many = Array.from({ length: 60 }, (_, i) => `10.0.${i >> 8}.${i & 255}`);
  const t = buildAnswerTable({ zone, hostnames, clusters: [cluster('east', many)] }, { active: 'east', generation: 1, state: 'steady' });
  const small = ask(t, { name: 'app.example.com' }).reply;
  assert.equal(small.header.tc, 1);
  assert.equal(small.answers.length, 0);
  assert.equal(ask(t, { name: 'app.example.com', edns: { udpSize: 4096 } }).reply.answers.length, 60);
  const q = createQuery();
  const msg = buildQuery({ name: 'app.example.com' });
  parseQuery(msg, q);
  assert.equal(decode(assembleReply(msg, q, lookup(t, q), 65535, false, 1232, 2).subarray(2)).answers.length, 60);
});

test('the hostnames\' TTL shrinks while a change is near or under way, and only theirs', () => {
  const ttlOf = (state: Parameters<typeof buildAnswerTable>[1]['state']) => {
    const t = buildAnswerTable({ zone, hostnames, clusters }, { active: 'east', generation: 1, state });
    return (ask(t, { name: hostnames[0], type: TYPE.A }).reply.answers[0] as { ttl: number }).ttl;
  };
  assert.equal(ttlOf('steady'), zone.ttl);
  assert.equal(ttlOf('failed-over'), zone.ttl);
  for (const s of ['suspect', 'precheck', 'failing-over', 'failing-back', 'held'] as const) assert.equal(ttlOf(s), Math.max(1, Math.ceil(zone.ttl / 6)), s);
});

test('answerTtl', () => {
  const table: Array<[Parameters<typeof answerTtl>[0], number, number]> = [['steady', 30, 30], ['suspect', 30, 5], ['held', 60, 10], ['failing-over', 5, 1], ['precheck', 1, 1], ['failed-over', 60, 60]];
  for (const [state, ttl, want] of table) assert.equal(answerTtl(state, ttl), want, `${state} ${ttl}`);
});

test('answerTtl: a stale state (the shared store unreachable) gets the shortened TTL whatever the state', () => {
  const table: Array<[Parameters<typeof answerTtl>[0], number, number]> = [['steady', 30, 5], ['failed-over', 60, 10], ['held', 60, 10], ['steady', 1, 1], ['steady', 5, 1]];
  for (const [state, ttl, want] of table) assert.equal(answerTtl(state, ttl, true), want, `${state} ${ttl} stale`);
  assert.equal(answerTtl('steady', 30, false), 30);
});

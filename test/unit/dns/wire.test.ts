import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { STATUS, TYPE, assembleReply, createQuery, inZone, encodeName, parseQuery, udpLimit, type Template } from '../../../src/dns/wire.ts';
import { buildQuery, encodeWireName, optRecord, decode } from '../../support/dns-client.ts';

const withCounts = (msg: Buffer, counts: { qd?: number; an?: number; ns?: number; ar?: number }) => {
  const out = Buffer.from(msg);
  if (counts.qd !== undefined) out.writeUInt16BE(counts.qd, 4);
  if (counts.an !== undefined) out.writeUInt16BE(counts.an, 6);
  if (counts.ns !== undefined) out.writeUInt16BE(counts.ns, 8);
  if (counts.ar !== undefined) out.writeUInt16BE(counts.ar, 10);
  return out;
};
const plain = buildQuery({ name: 'App.Example.COM', type: TYPE.AAAA });
const questionEnd = 12 + encodeWireName('App.Example.COM').length + 4;
const aRecord = Buffer.concat([Buffer.from([0xc0, 0x0c]), Buffer.from('00010001000000050004c0000201', 'hex')]);

const cases: Array<{ name: string; msg: Buffer; status: number; questionEnd?: number; qtype?: number; edns?: boolean; udpSize?: number; version?: number; dnssecOk?: boolean }> = [
  { name: 'empty', msg: Buffer.alloc(0), status: STATUS.SHORT },
  { name: '11 bytes', msg: plain.subarray(0, 11), status: STATUS.SHORT },
  { name: 'a response (QR=1)', msg: buildQuery({ name: 'a.example.com', qr: true }), status: STATUS.RESPONSE },
  { name: 'plain query', msg: plain, status: STATUS.OK, questionEnd, qtype: TYPE.AAAA, edns: false },
  { name: 'header only, QDCOUNT=1', msg: plain.subarray(0, 12), status: STATUS.FORMERR, questionEnd: 12 },
  { name: 'QDCOUNT=0', msg: withCounts(plain, { qd: 0 }), status: STATUS.FORMERR, questionEnd: 12 },
  { name: 'QDCOUNT=2', msg: withCounts(Buffer.concat([plain, plain.subarray(12)]), { qd: 2 }), status: STATUS.FORMERR, questionEnd: 12 },
  { name: 'question cut in QTYPE', msg: plain.subarray(0, questionEnd - 3), status: STATUS.FORMERR, questionEnd: 12 },
  { name: 'question cut in a label', msg: plain.subarray(0, 16), status: STATUS.FORMERR, questionEnd: 12 },
  { name: 'compression pointer in the question', msg: Buffer.concat([plain.subarray(0, 12), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])]), status: STATUS.FORMERR, questionEnd: 12 },
  { name: 'label of 64 bytes', msg: Buffer.concat([plain.subarray(0, 12), Buffer.from([64]), Buffer.alloc(64, 0x61), Buffer.from([0, 0, 1, 0, 1])]), status: STATUS.FORMERR },
  { name: 'name of 255 bytes (limit)', msg: buildQuery({ name: [...Array(3)].map(() => 'a'.repeat(63)).join('.') + '.' + 'b'.repeat(61) }), status: STATUS.OK },
  { name: 'name of 256 bytes', msg: buildQuery({ name: [...Array(3)].map(() => 'a'.repeat(63)).join('.') + '.' + 'b'.repeat(62) }), status: STATUS.FORMERR, questionEnd: 12 },
  { name: 'root name', msg: buildQuery({ name: '' }), status: STATUS.OK, questionEnd: 12 + 1 + 4 },
  { name: 'opcode STATUS (2)', msg: buildQuery({ name: 'a.example.com', opcode: 2 }), status: STATUS.NOTIMP, questionEnd: 12 + 15 + 4 },
  { name: 'opcode NOTIFY with broken question', msg: withCounts(buildQuery({ name: 'a.example.com', opcode: 4 }), { qd: 0 }), status: STATUS.NOTIMP, questionEnd: 12 },
  { name: 'EDNS 4096, DO', msg: buildQuery({ name: 'a.example.com', edns: { udpSize: 4096, dnssecOk: true } }), status: STATUS.OK, edns: true, udpSize: 4096, dnssecOk: true, version: 0 },
  { name: 'EDNS with a cookie option', msg: buildQuery({ name: 'a.example.com', edns: { options: Buffer.from('000a00080102030405060708', 'hex') } }), status: STATUS.OK, edns: true },
  { name: 'EDNS version 1', msg: buildQuery({ name: 'a.example.com', edns: { version: 1 } }), status: STATUS.BADVERS, edns: true, version: 1 },
  { name: 'two OPT records', msg: withCounts(Buffer.concat([buildQuery({ name: 'a.example.com', edns: {} }), optRecord({})]), { ar: 2 }), status: STATUS.FORMERR, edns: false },
  { name: 'OPT in the answer section', msg: withCounts(Buffer.concat([plain, optRecord({})]), { an: 1 }), status: STATUS.FORMERR, questionEnd },
  { name: 'OPT with a non-root owner', msg: withCounts(Buffer.concat([plain, Buffer.from([1, 0x61]), optRecord({})]), { ar: 1 }), status: STATUS.FORMERR },
  { name: 'OPT option overrunning RDATA', msg: buildQuery({ name: 'a.example.com', edns: { options: Buffer.from('000a0009010203', 'hex') } }), status: STATUS.FORMERR },
  { name: 'OPT RDATA of 3 bytes', msg: buildQuery({ name: 'a.example.com', edns: { options: Buffer.from('000a00', 'hex') } }), status: STATUS.FORMERR },
  { name: 'OPT cut short', msg: withCounts(Buffer.concat([plain, optRecord({}).subarray(0, 8)]), { ar: 1 }), status: STATUS.FORMERR },
  { name: 'ARCOUNT=1 with nothing after the question', msg: withCounts(plain, { ar: 1 }), status: STATUS.FORMERR },
  { name: 'an answer record (compressed owner) then OPT', msg: withCounts(Buffer.concat([plain, aRecord, optRecord({ udpSize: 1400 })]), { an: 1, ar: 1 }), status: STATUS.OK, edns: true, udpSize: 1400 },
  { name: 'record with reserved label bits 0x40', msg: withCounts(Buffer.concat([plain, Buffer.from([0x41]), aRecord.subarray(2)]), { ns: 1 }), status: STATUS.FORMERR },
  { name: 'RDLENGTH past the end', msg: withCounts(Buffer.concat([plain, aRecord.subarray(0, aRecord.length - 1)]), { an: 1 }), status: STATUS.FORMERR },
  { name: 'trailing bytes after the records are ignored', msg: Buffer.concat([plain, Buffer.from([1, 2, 3])]), status: STATUS.OK, questionEnd },
  { name: 'ANCOUNT 65535 with no records', msg: withCounts(plain, { an: 65535, ns: 65535, ar: 65535 }), status: STATUS.FORMERR },
];

test('parseQuery: table of well-formed and malformed queries', () => {
  const q = createQuery();
  for (const c of cases) {
    parseQuery(c.msg, q);
    assert.equal(q.status, c.status, `${c.name}: status`);
    if (c.questionEnd !== undefined) assert.equal(q.questionEnd, c.questionEnd, `${c.name}: questionEnd`);
    if (c.qtype !== undefined) assert.equal(q.qtype, c.qtype, `${c.name}: qtype`);
    if (c.edns !== undefined) assert.equal(q.edns, c.edns, `${c.name}: edns`);
    if (c.udpSize !== undefined) assert.equal(q.udpSize, c.udpSize, `${c.name}: udpSize`);
    if (c.version !== undefined) assert.equal(q.ednsVersion, c.version, `${c.name}: version`);
    if (c.dnssecOk !== undefined) assert.equal(q.dnssecOk, c.dnssecOk, `${c.name}: DO`);
  }
});

test('parseQuery lower-cases the name in wire form and keeps the class', () => {
  const q = createQuery();
  parseQuery(buildQuery({ name: 'ApP.ExAmPlE.CoM', qclass: 3 }), q);
  assert.equal(q.status, STATUS.OK);
  assert.deepEqual(q.name.subarray(0, q.nameLength), encodeName('app.example.com'));
  assert.equal(q.qclass, 3);
});

test('parseQuery lower-cases ASCII only (bytes 0xc0-0xde stay as they are)', () => {
  const q = createQuery();
  parseQuery(buildQuery({ name: 'A\u00c0Z.example.com' }), q);
  assert.deepEqual([...q.name.subarray(1, 4)], [0x61, 0xc0, 0x7a]);
});

test('parseQuery never throws and stays within the message, for any bytes', () => {
  const q = createQuery();
  fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 600 }), (bytes) => {
    const msg = Buffer.from(bytes);
    parseQuery(msg, q);
    assert.ok(q.status >= STATUS.OK && q.status <= STATUS.BADVERS);
    assert.ok(q.questionEnd >= 12 && (q.questionEnd === 12 || q.questionEnd <= msg.length));
    assert.ok(q.nameLength <= 255);
  }), { numRuns: 20_000 });
});

test('parseQuery never throws on mutations of a valid EDNS query', () => {
  const q = createQuery();
  const base = buildQuery({ name: 'app.example.com', edns: { udpSize: 4096, options: Buffer.from('000a00080102030405060708', 'hex') } });
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), fc.nat(base.length), (edits, cut) => {
    const msg = Buffer.from(base);
    for (const [i, v] of edits) msg[i] = v;
    parseQuery(msg.subarray(0, cut), q);
    parseQuery(msg, q);
    assert.ok(q.status >= STATUS.OK && q.status <= STATUS.BADVERS);
  }), { numRuns: 20_000 });
});

const template = (over: Partial<Template> = {}): Template => ({ flagsHigh: 0x84, rcode: 0, an: 1, ns: 0, ar: 0, body: Buffer.from('c00c000100010000001e00047f000002', 'hex'), ...over });

test('assembleReply copies ID, opcode bits, RD and CD, echoes the question bytes and sets AA, RA clear', () => {
  const q = createQuery();
  const msg = buildQuery({ id: 0xbeef, name: 'ApP.example.com', rd: true, cd: true });
  parseQuery(msg, q);
  const reply = assembleReply(msg, q, template(), 512, false, 1232, 0);
  const p = decode(reply);
  assert.equal(p.header.id, 0xbeef);
  assert.equal(p.header.qr, 1);
  assert.equal(p.header.aa, 1);
  assert.equal(p.header.rd, 1);
  assert.equal(p.header.ra, 0);
  assert.equal((p.header as unknown as { cd: number }).cd, 1);
  assert.equal(p.header.tc, 0);
  assert.deepEqual(reply.subarray(12, q.questionEnd), msg.subarray(12, q.questionEnd));
  assert.equal(p.answers[0].name, 'ApP.example.com');
  assert.equal(p.answers[0].address, '127.0.0.2');
  assert.equal(p.answers[0].ttl, 30);
  assert.equal(p.additionals.length, 0);
});

test('assembleReply: RD clear stays clear; TCP headroom carries the length', () => {
  const q = createQuery();
  const msg = buildQuery({ name: 'app.example.com', rd: false });
  parseQuery(msg, q);
  const reply = assembleReply(msg, q, template(), 65535, false, 1232, 2);
  assert.equal(reply.readUInt16BE(0), reply.length - 2);
  assert.equal(decode(reply.subarray(2)).header.rd, 0);
});

test('assembleReply appends an OPT (our size, version 0, DO copied) only when the query had one', () => {
  const q = createQuery();
  const msg = buildQuery({ name: 'app.example.com', edns: { udpSize: 4096, dnssecOk: true } });
  parseQuery(msg, q);
  const p = decode(assembleReply(msg, q, template(), udpLimit(q, 1232), false, 1232, 0));
  const opt = p.additionals.find((r) => r.type === 41)!;
  assert.equal(p.header.arcount, 1);
  assert.equal(opt.class, 1232);
  assert.equal(opt.version, 0);
  assert.equal(opt.doFlag, true);
  const plainQ = createQuery();
  const plainMsg = buildQuery({ name: 'app.example.com' });
  parseQuery(plainMsg, plainQ);
  assert.equal(decode(assembleReply(plainMsg, plainQ, template(), 512, false, 1232, 0)).header.arcount, 0);
});

test('assembleReply: BADVERS goes in the OPT extended rcode', () => {
  const q = createQuery();
  const msg = buildQuery({ name: 'app.example.com', edns: { version: 2 } });
  parseQuery(msg, q);
  const reply = assembleReply(msg, q, template({ flagsHigh: 0x80, rcode: 16, an: 0, body: Buffer.alloc(0) }), 512, false, 1232, 0);
  assert.equal(reply[3] & 0x0f, 0);
  assert.equal(decode(reply).header.rcode, 16);
});

test('assembleReply truncates (TC=1, question only, OPT kept) when over the limit or asked to', () => {
  const q = createQuery();
  const msg = buildQuery({ name: 'app.example.com', edns: {} });
  parseQuery(msg, q);
  const big = template({ an: 40, body: Buffer.concat(Array(40).fill(template().body)) });
  const fits = decode(assembleReply(msg, q, big, 1232, false, 1232, 0));
  assert.equal(fits.header.tc, 0);
  assert.equal(fits.answers.length, 40);
  for (const reply of [assembleReply(msg, q, big, 512, false, 1232, 0), assembleReply(msg, q, template(), 1232, true, 1232, 0)]) {
    const p = decode(reply);
    assert.equal(p.header.tc, 1);
    assert.equal(p.header.ancount, 0);
    assert.equal(p.questions.length, 1);
    assert.equal(p.header.arcount, 1);
    assert.ok(reply.length <= 512);
  }
});

test('assembleReply with an unparseable question: header echoed, no question', () => {
  const q = createQuery();
  const msg = withCounts(buildQuery({ id: 7, name: 'a.example.com' }), { qd: 2 });
  parseQuery(msg, q);
  const reply = assembleReply(msg, q, template({ flagsHigh: 0x80, rcode: 1, an: 0, body: Buffer.alloc(0) }), 512, false, 1232, 0);
  assert.equal(reply.length, 12);
  const p = decode(reply);
  assert.equal(p.header.id, 7);
  assert.equal(p.header.rcode, 1);
  assert.equal(p.header.qdcount, 0);
});

test('udpLimit: 512 without EDNS, the requestor size at least 512, capped by our maximum', () => {
  const q = createQuery();
  const cases: Array<[QueryEdns: { udpSize: number } | undefined, max: number, expected: number]> = [
    [undefined, 1232, 512], [{ udpSize: 100 }, 1232, 512], [{ udpSize: 1000 }, 1232, 1000], [{ udpSize: 4096 }, 1232, 1232], [{ udpSize: 4096 }, 4096, 4096],
  ];
  for (const [edns, max, expected] of cases) {
    parseQuery(buildQuery({ name: 'a.example.com', edns }), q);
    assert.equal(udpLimit(q, max), expected, JSON.stringify({ edns, max }));
  }
});

test('inZone: on label boundaries only', () => {
  const zone = encodeName('example.com');
  const cases: Array<[string, boolean]> = [
    ['example.com', true], ['a.example.com', true], ['a.b.example.com', true], ['badexample.com', false], ['com', false], ['', false],
    ['example.com.evil', false], ['xexample.com', false], ['a.xexample.com', false],
  ];
  for (const [name, expected] of cases) {
    const wire = encodeName(name);
    assert.equal(inZone(wire, wire.length, zone), expected, name);
  }
});

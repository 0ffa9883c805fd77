import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { VERDICT, createRateLimiter, prefixKey } from '../../../src/dns/rate-limit.ts';

const options = (over: Partial<Parameters<typeof createRateLimiter>[0]> = {}) => ({
  responsesPerSecond: 10, slip: 2, window: 5000, ipv4PrefixLength: 24, ipv6PrefixLength: 56, ...over,
});

test('prefixKey: table of addresses and prefix lengths', () => {
  const same: Array<[string, string, number, number]> = [
    ['192.0.2.1', '192.0.2.254', 24, 56],
    ['10.1.2.3', '10.1.200.3', 16, 56],
    ['::ffff:192.0.2.1', '192.0.2.77', 24, 56],
    ['2001:db8:0:12::1', '2001:db8:0:1f:ffff::9', 56, 56],
    ['2001:db8::1', '2001:0db8:0000:0000:0000:0000:0000:0001', 128, 128],
    ['fe80::1', 'fe80::2', 64, 64],
  ];
  for (const [a, b, v4, v6] of same) assert.equal(prefixKey(a, v4, v6), prefixKey(b, v4, v6), `${a} ~ ${b}`);
  const different: Array<[string, string, number, number]> = [
    ['192.0.2.1', '192.0.3.1', 24, 56],
    ['192.0.2.1', '192.0.2.2', 32, 56],
    ['2001:db8:0:12::1', '2001:db8:0:112::1', 56, 56],
    ['2001:db8::1', '2001:db8::2', 128, 128],
    ['::1', '127.0.0.1', 24, 56],
  ];
  for (const [a, b, v4, v6] of different) assert.notEqual(prefixKey(a, v4, v6), prefixKey(b, v4, v6), `${a} !~ ${b}`);
  assert.equal(prefixKey('192.0.2.200', 24, 56), 0xc0000200);
  assert.equal(prefixKey('255.255.255.255', 32, 56), 0xffffffff);
  for (const junk of ['', 'x', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', '1:2:3', 'g::1', '1::2::3', ':1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7::8', '12345::1', '1:', '1:::2', 'fe80::1%eth0']) assert.equal(prefixKey(junk, 24, 56), junk, `${JSON.stringify(junk)} keys as itself`);
});

test('prefixKey parses every IPv6 form like the URL parser does (full and compressed)', () => {
  fc.assert(fc.property(fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 }), (groups) => {
    const full = groups.map((g) => g.toString(16)).join(':');
    const compressed = new URL(`http://[${full}]/`).hostname.slice(1, -1);
    const expected = String.fromCharCode(...groups);
    assert.equal(prefixKey(full, 24, 128), expected, full);
    if (!compressed.includes('.')) assert.equal(prefixKey(compressed, 24, 128), expected, compressed);
    assert.equal(prefixKey(full.toUpperCase(), 24, 128), expected);
  }), { numRuns: 5000 });
});

test('a source gets responsesPerSecond replies at once, then is limited; every slip-th limited reply slips', () => {
  const rl = createRateLimiter(options());
  const verdicts = Array.from({ length: 16 }, () => rl.check('192.0.2.1', 1000));
  assert.deepEqual(verdicts.slice(0, 10), Array(10).fill(VERDICT.SEND));
  assert.deepEqual(verdicts.slice(10), [VERDICT.DROP, VERDICT.SLIP, VERDICT.DROP, VERDICT.SLIP, VERDICT.DROP, VERDICT.SLIP]);
  assert.equal(rl.check('192.0.2.99', 1000), VERDICT.DROP, 'same /24 shares the account');
  assert.equal(rl.check('192.0.3.1', 1000), VERDICT.SEND, 'another /24 has its own');
});

test('slip 0 never slips; slip 1 slips every limited reply', () => {
  const never = createRateLimiter(options({ slip: 0, responsesPerSecond: 1 }));
  never.check('192.0.2.1', 0);
  assert.deepEqual([1, 2, 3].map(() => never.check('192.0.2.1', 0)), [VERDICT.DROP, VERDICT.DROP, VERDICT.DROP]);
  const always = createRateLimiter(options({ slip: 1, responsesPerSecond: 1 }));
  always.check('192.0.2.1', 0);
  assert.deepEqual([1, 2, 3].map(() => always.check('192.0.2.1', 0)), [VERDICT.SLIP, VERDICT.SLIP, VERDICT.SLIP]);
});

test('credits come back at the configured rate, up to one second of them', () => {
  const rl = createRateLimiter(options({ slip: 0 }));
  for (let i = 0; i < 10; i++) rl.check('192.0.2.1', 0);
  assert.equal(rl.check('192.0.2.1', 0), VERDICT.DROP);                // balance -1
  assert.equal(rl.check('192.0.2.1', 200), VERDICT.SEND);              // +2 credits → 0 after the debit
  assert.equal(rl.check('192.0.2.1', 200), VERDICT.DROP);
  // A long quiet spell refills to the one-second cap only.
  const sent = Array.from({ length: 12 }, () => rl.check('192.0.2.1', 60_000)).filter((v) => v === VERDICT.SEND).length;
  assert.equal(sent, 10);
});

test('a flood stays limited until its debt is repaid, at most `window` later (BIND accounting)', () => {
  const rl = createRateLimiter(options({ slip: 0, responsesPerSecond: 10, window: 5000 }));
  for (let i = 0; i < 10_000; i++) rl.check('192.0.2.1', 1000);          // balance floors at -50
  assert.equal(rl.check('192.0.2.1', 1000 + 4000), VERDICT.DROP, 'after 4 s: -50 + 40 - 1 < 0');
  assert.equal(rl.check('192.0.2.1', 1000 + 5200), VERDICT.SEND, 'after 5.2 s: debt repaid');
});

test('the account table has a fixed size: the oldest account makes room', () => {
  const rl = createRateLimiter(options({ maxEntries: 100, slip: 0, responsesPerSecond: 1 }));
  assert.equal(rl.check('192.0.2.1', 0), VERDICT.SEND);
  assert.equal(rl.check('192.0.2.1', 0), VERDICT.DROP);
  for (let i = 0; i < 10_000; i++) rl.check(`10.${(i >> 8) & 255}.${i & 255}.1`, 0);
  assert.equal(rl.size(), 100);
  assert.equal(rl.check('192.0.2.1', 0), VERDICT.SEND, 'evicted, so it starts afresh');
});

test('an account in use is kept over idle ones when the table is full (refreshed at most once a second)', () => {
  const rl = createRateLimiter(options({ maxEntries: 3, slip: 0, responsesPerSecond: 1, window: 60_000 }));
  rl.check('192.0.2.1', 0);
  for (let i = 0; i < 50; i++) rl.check('192.0.2.1', 0);               // deep in debt
  rl.check('10.0.1.1', 500);
  rl.check('10.0.2.1', 500);
  rl.check('192.0.2.1', 1500);                                         // refreshed: now the youngest
  rl.check('10.0.3.1', 1600);                                          // evicts 10.0.1.0/24
  assert.equal(rl.size(), 3);
  assert.equal(rl.check('192.0.2.1', 1600), VERDICT.DROP, 'the flooding account survived with its debt');
});

test('IPv6 sources are grouped by ipv6PrefixLength', () => {
  const rl = createRateLimiter(options({ slip: 0, responsesPerSecond: 2 }));
  assert.equal(rl.check('2001:db8:0:1::1', 0), VERDICT.SEND);
  assert.equal(rl.check('2001:db8:0:2::1', 0), VERDICT.SEND);
  assert.equal(rl.check('2001:db8:0:3::1', 0), VERDICT.DROP, 'same /56');
  assert.equal(rl.check('2001:db8:0:100::1', 0), VERDICT.SEND, 'another /56');
});

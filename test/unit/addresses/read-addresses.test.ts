// The pure reading of a Service's or Ingress's status.loadBalancer.ingress.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readAddresses } from '../../../src/addresses/index.ts';
import type { AddressesFrom } from '../../../src/config/index.ts';

const from: AddressesFrom = { kind: 'service', namespace: 'app', name: 'web' };
const obj = (ingress: Array<{ ip?: string; hostname?: string }> | undefined) => ({ metadata: { name: 'web' }, status: { loadBalancer: ingress === undefined ? {} : { ingress } } });

test('readAddresses: IPs only, sorted and deduplicated; everything else is a coded error', () => {
  const cases: Array<[string, Parameters<typeof readAddresses>[0], string[] | string]> = [
    ['one IPv4', obj([{ ip: '192.0.2.10' }]), ['192.0.2.10']],
    ['IPv4 and IPv6, sorted, duplicates once', obj([{ ip: '192.0.2.11' }, { ip: '2001:db8::1' }, { ip: '192.0.2.10' }, { ip: '192.0.2.11' }]), ['192.0.2.10', '192.0.2.11', '2001:db8::1']],
    ['an ip beside a hostname counts', obj([{ ip: '192.0.2.10', hostname: 'lb.example.net' }]), ['192.0.2.10']],
    ['hostname only', obj([{ hostname: 'abc.elb.example.net' }]), 'SWY_ADDRESSES_HOSTNAME'],
    ['an ip and a hostname-only entry', obj([{ ip: '192.0.2.10' }, { hostname: 'abc.elb.example.net' }]), 'SWY_ADDRESSES_HOSTNAME'],
    ['ip field that is not an IP', obj([{ ip: 'lb.example.net' }]), 'SWY_ADDRESSES_HOSTNAME'],
    ['no ingress yet', obj(undefined), 'SWY_ADDRESSES_EMPTY'],
    ['empty ingress', obj([]), 'SWY_ADDRESSES_EMPTY'],
    ['no status at all', { metadata: { name: 'web' } }, 'SWY_ADDRESSES_EMPTY'],
    ['object missing', undefined, 'SWY_ADDRESSES_NOT_FOUND'],
  ];
  for (const [what, input, want] of cases) {
    const r = readAddresses(input, from, 'east');
    if (Array.isArray(want)) assert.deepEqual(r, { addresses: want }, what);
    else {
      assert.ok('error' in r, `${what}: expected an error`);
      assert.equal(r.error.code, want, what);
      assert.match(r.error.message, /service app\/web in cluster east/, what);
    }
  }
});

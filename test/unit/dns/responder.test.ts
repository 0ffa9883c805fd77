// The responder remembers its last lookup (same table, name, type and class → same template):
// the answer must always be what a fresh lookup gives, whatever order the questions come in,
// and a new table must never be answered from the old one's template.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { buildAnswerTable, createDnsMetrics, createQuery, createResponder, lookup, parseQuery, TRANSPORT, type AnswerTable } from '../../../src/dns/index.ts';
import { buildQuery, decode } from '../../support/dns-client.ts';
import { clusters, hostnames, zone } from '../../support/dns-fixtures.ts';

const tableFor = (active: string, generation: number) => buildAnswerTable({ zone, hostnames, clusters }, { active, generation, state: 'steady' });

test('answers equal a fresh lookup for every question in any order, across a table swap', () => {
  let table: AnswerTable = tableFor('east', 1);
  const respond = createResponder({ table: () => table, rateLimiter: null, metrics: createDnsMetrics(new Registry()), now: Date.now, maxUdpSize: 1232 });
  const questions = [
    { name: 'app.example.com' }, { name: 'app.example.com' }, { name: 'apq.example.com' }, { name: 'APP.example.com', type: 28 }, { name: 'app.example.com', type: 28 },
    { name: 'apq.example.com' }, { name: 'api.eu.example.com' }, { name: 'app.example.org' }, { name: 'app.example.com', qclass: 3 },
    { name: 'example.com', type: 6 }, { name: 'example.com', type: 2 }, { name: 'app.example.com' },
  ];
  const q = createQuery();
  for (const generation of [1, 2, 3]) {
    if (generation > 1) table = tableFor(generation % 2 === 0 ? 'west' : 'east', generation);
    for (const [i, question] of [...questions, ...questions.slice().reverse()].entries()) {
      const msg = buildQuery(question as Parameters<typeof buildQuery>[0]);
      const reply = respond(msg, TRANSPORT.UDP, '127.0.0.1');
      assert.ok(reply);
      parseQuery(msg, q);
      const expected = lookup(table, q);
      const got = decode(reply);
      assert.equal(got.header.rcode, expected.rcode & 0x0f, `question ${i} ${JSON.stringify(question)} at generation ${generation}: rcode`);
      assert.equal(got.answers.length, expected.an, `question ${i} ${JSON.stringify(question)} at generation ${generation}: answers`);
      if (question.name.toLowerCase() === 'app.example.com' && (question as { type?: number }).type === undefined && (question as { qclass?: number }).qclass === undefined) {
        assert.deepEqual(got.answers.map((a) => a.address).sort(), table.active === 'east' ? ['192.0.2.1', '192.0.2.2'] : ['198.51.100.1']);
      }
    }
  }
});

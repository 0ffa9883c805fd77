// Redaction of credentials from text shown to people: patterns and known values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configSecrets, envSecrets, parseConfig, redactText } from '../../../src/config/index.ts';

test('redactText: userinfo, query strings and key=value credentials', () => {
  const cases: Array<[string, string]> = [
    ['http://u:pw@h:1/p?token=abc&x=1', 'http://***@h:1/p?***'],
    ['https://h/p?x', 'https://h/p?***'],
    ['https://h/p#frag', 'https://h/p#frag'],
    ['postgres://app:s3cret@db:5432/app', 'postgres://***@db:5432/app'],
    ['postgress://app:s3cret@db/app is not a postgres:// URL', 'postgress://***@db/app is not a postgres:// URL'],
    ['"postgres:/app:s3cret@db/app"', '"postgres:/app:***@db/app"'],
    ['host=db password=s3cret user=app', 'host=db password=*** user=app'],
    ['call failed: TOKEN=abc, retrying', 'call failed: TOKEN=***, retrying'],
    ['connect ECONNREFUSED 127.0.0.2:18081', 'connect ECONNREFUSED 127.0.0.2:18081'],
    ['http http://127.0.0.2:18081/healthz', 'http http://127.0.0.2:18081/healthz'],
  ];
  for (const [input, expected] of cases) assert.equal(redactText(input), expected, input);
  assert.equal(redactText('the value hunter2-long appears', ['hunter2-long']), 'the value *** appears');
  assert.equal(redactText('a 1 in 10', ['1']), 'a 1 in 10', 'short values are never redacted');
});

test('configSecrets and envSecrets: the admin token, database passwords, hook and webhook secrets', () => {
  const config = parseConfig(`
zone: { name: example.com, nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }] }
hostnames: [app.example.com]
clusters:
  - { name: east, addresses: [127.0.0.2], probes: [{ http: { url: "http://127.0.0.2/h", headers: { Authorization: "Bearer probe-token-1" } } }], database: { url: "postgres://a:p%40ss-word@db/app" } }
  - { name: west, addresses: [127.0.0.3], probes: [{ tcp: { address: "127.0.0.3:1" } }], database: { url: "postgres://a:west-pass@db/app" } }
failover:
  steps:
    - switch-traffic
    - exec: { command: [/bin/true], env: { API_TOKEN: "exec-token-1", REGION: "europe-west" } }
    - webhook: { url: "https://hooks.example/x", secret: "hmac-secret-1" }
`, { SWITCHYARD_ADMIN_TOKEN: 'admin-token-1' }, '/');
  const s = configSecrets(config);
  for (const v of ['admin-token-1', 'p@ss-word', 'west-pass', 'probe-token-1'.replace('probe', 'Bearer probe'), 'exec-token-1', 'hmac-secret-1']) assert.ok(s.includes(v), `${v} in ${JSON.stringify(s)}`);
  assert.ok(!s.includes('europe-west'), 'values of variables that are not secret stay visible');
  assert.deepEqual(envSecrets({ PGPASSWORD: 'pg-secret-1', PATH: '/usr/bin:/bin', HOOK_TOKEN: 'x' }), ['pg-secret-1']);
});

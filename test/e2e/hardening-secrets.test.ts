// Issue 9, secrets: a secret in a probe URL (userinfo and query string), in a database URL and
// in an exec hook's stderr, and the admin token, appear nowhere in /v1/status, /metrics, the
// page, CLI output or the log of a real `switchyard serve` at debug level; `validate` does not
// echo a mistyped database URL's password; the hook does not inherit switchyard's environment.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHealthEndpoint } from '../support/health-endpoint.ts';
import { runCli, startSwitchyard } from '../support/switchyard-process.ts';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });

const SECRETS = {
  probeUser: 'probepass123', probeQuery: 'PROBESECRET1', probeQuery2: 'PROBESECRET2', db: 'DBSECRET99', dbWest: 'DBSECRET77',
  execQuery: 'EXECSECRET7', execPair: 'EXECSECRET8', execEnv: 'EXECSECRET9', admin: 'ADMINSECRET42',
};

const base = (eastProbe: string, westProbe: string, eastDb: string, extra: string) => `
zone: { name: example.com, nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }] }
hostnames: [app.example.com]
clusters:
  - name: east
    addresses: [127.0.0.2]
    probes: [{ http: { url: "${eastProbe}" } }]
    database: { url: "${eastDb}" }
  - name: west
    addresses: [127.0.0.3]
    probes: [{ http: { url: "${westProbe}" } }]
    database: { url: "postgres://app:${SECRETS.dbWest}@127.0.0.1:1/app" }
health: { interval: 300ms, timeout: 250ms, fall: 2, rise: 1 }
dns: { listen: ["127.0.0.1:\${DNS_PORT}"] }
admin: { listen: "127.0.0.1:\${ADMIN_PORT}" }
log: { level: debug }
${extra}`;

const leaks = (text: string): string[] => Object.values(SECRETS).filter((s) => text.includes(s));

test('validate does not echo a mistyped database URL or its password', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'swy-secrets-validate-'));
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, base('http://127.0.0.2:1/h', 'http://127.0.0.3:1/h', '${EAST_DATABASE_URL}', ''));
  for (const url of [`postgress://app:${SECRETS.db}@db.internal:5432/app`, `postgres:/app:${SECRETS.db}@db.internal/app`, `pg://db.internal/app?password=${SECRETS.db}`]) {
    const r = await runCli(['validate', '--config', file], { env: { DNS_PORT: '53', ADMIN_PORT: '9090', EAST_DATABASE_URL: url } });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /SWY_CONFIG_INVALID clusters\[0\]\.database\.url: /, 'the error still names the key');
    assert.deepEqual(leaks(r.stdout + r.stderr), [], `${url}: ${r.stderr}`);
  }
  // An empty admin token is an error too, and says so without a value to leak.
  const ok = join(dir, 'ok.yaml');
  writeFileSync(ok, base('http://127.0.0.2:1/h', 'http://127.0.0.3:1/h', `postgres://app:${SECRETS.db}@127.0.0.1:1/app`, ''));
  const empty = await runCli(['validate', '--config', ok], { env: { DNS_PORT: '53', ADMIN_PORT: '9090', SWITCHYARD_ADMIN_TOKEN: '' } });
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /SWITCHYARD_ADMIN_TOKEN: is set but empty/);
});

test('no secret of a probe URL, a database URL, hook stderr or the admin token reaches status, metrics, page, CLI or logs', { timeout: 60_000 }, async () => {
  const east = await startHealthEndpoint('127.0.0.2');
  cleanups.push(() => east.kill());
  const dir = mkdtempSync(join(tmpdir(), 'swy-secrets-'));
  const envFile = join(dir, 'hook-env.txt');
  const hook = join(dir, 'hook.sh');
  writeFileSync(hook, `#!/bin/sh
env > ${envFile}
echo "calling https://hooks.example/notify?key=${SECRETS.execQuery} failed" >&2
echo "retry with password=${SECRETS.execPair}" >&2
echo "token in env was $HOOK_TOKEN" >&2
echo "database postgres://app:${SECRETS.db}@127.0.0.1:1/app unreachable" >&2
exit 1
`, { mode: 0o755 });
  const eastUrl = `http://probe:${SECRETS.probeUser}@127.0.0.2:${east.port}/healthz?token=${SECRETS.probeQuery}`;
  const westUrl = `http://127.0.0.3:1/healthz?token=${SECRETS.probeQuery2}`;
  const sy = await startSwitchyard({
    dir,
    config: base(eastUrl, westUrl, `postgres://app:${SECRETS.db}@127.0.0.1:1/app`, `failover:
  cooldown: 0s
  steps:
    - switch-traffic
    - exec: { command: ["${hook}"], env: { HOOK_TOKEN: "\${HOOK_TOKEN}" }, retries: 0 }
`),
    env: { SWITCHYARD_ADMIN_TOKEN: SECRETS.admin, HOOK_TOKEN: SECRETS.execEnv },
  });
  cleanups.push(() => sy.stop());
  // wait for both verdicts (east up, west down), then a forced move runs the failing hook
  const admin = (path: string, init: RequestInit = {}) => fetch(`${sy.adminUrl}${path}`, { ...init, headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRETS.admin}` } });
  for (let i = 0; i < 100; i++) {
    const s = await (await admin('/v1/status')).json() as { clusters: Array<{ healthy: boolean | null }> };
    if (s.clusters[0].healthy === true && s.clusters[1].healthy === false) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const move = await admin('/v1/failover', { method: 'POST', body: JSON.stringify({ to: 'west', force: true, reason: 'secrets e2e' }) });
  assert.equal(move.status, 200, await move.text());

  const status = await (await admin('/v1/status')).text();
  const st = JSON.parse(status) as { clusters: Array<{ probes: Array<{ name: string }> }>; lastTransition: { journal: Array<{ step: string; phase: string; error?: string }> } };
  const failed = st.lastTransition.journal.find((e) => e.step === 'exec' && e.phase === 'failed');
  assert.ok(failed, `the hook failed and was journaled: ${status}`);
  assert.match(failed.error ?? '', /SWY_FAILOVER_EXEC_FAILED: .*exited with code 1/);
  assert.equal(st.clusters[0].probes[0].name, `http http://***@127.0.0.2:${east.port}/healthz?***`, 'the derived probe name is redacted');

  const page = await (await admin('/')).text();
  const metrics = await (await admin('/metrics')).text();
  assert.match(metrics, /switchyard_health_probe_up\{cluster="east",probe="http http:\/\/\*\*\*@127\.0\.0\.2:\d+\/healthz\?\*\*\*"\} 1/);
  const cli = await runCli(['status', '--admin', sy.adminUrl], { env: { SWITCHYARD_ADMIN_TOKEN: SECRETS.admin } });
  const cliJson = await runCli(['status', '--json', '--admin', sy.adminUrl], { env: { SWITCHYARD_ADMIN_TOKEN: SECRETS.admin } });
  // The forced move went to west, which is down: status says so with a documented exit code,
  // 4 (active down) or, once the policy has held on it, 3 (held; the lowest code wins).
  assert.ok(cli.code === 3 || cli.code === 4, `status exit ${cli.code}: ${cli.stderr}`);
  assert.match(cli.stdout, /exec\s+failed/);
  await sy.stop();
  const logs = sy.logs();
  // The hook's stderr reached the log, redacted: the check below is not vacuous.
  assert.match(logs, /calling https:\/\/hooks\.example\/notify\?\*\*\* failed/);
  assert.match(logs, /retry with password=\*\*\*/);
  assert.match(logs, /token in env was \*\*\*/);
  assert.match(logs, /postgres:\/\/\*\*\*@127\.0\.0\.1:1\/app unreachable/);

  for (const [where, text] of Object.entries({ status, page, metrics, cli: cli.stdout + cli.stderr, cliJson: cliJson.stdout + cliJson.stderr, logs })) {
    assert.deepEqual(leaks(text), [], `${where} leaks a secret`);
  }
  const hookEnv = readFileSync(envFile, 'utf8');
  assert.match(hookEnv, new RegExp(`^HOOK_TOKEN=${SECRETS.execEnv}$`, 'm'), 'the listed env reaches the hook');
  assert.match(hookEnv, /^SWITCHYARD_TARGET=west$/m);
  assert.doesNotMatch(hookEnv, /SWITCHYARD_ADMIN_TOKEN|ADMINSECRET42|DNS_PORT|^HOME=/m, 'nothing else of switchyard\'s environment');
});

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { createExecStep, type ExecConfig } from '../../../../src/failover/steps/exec.ts';
import { isSwitchyardError } from '../../../../src/errors.ts';
import { captureLogger, stepContext } from '../../../support/step-context.ts';

const NODE = process.execPath;
const baseEnv = { PATH: '/usr/bin:/bin', HOME: '/nonexistent', LANG: 'C.UTF-8', SWITCHYARD_ADMIN_TOKEN: 'admin-secret', EAST_DATABASE_URL: 'postgres://u:pw@db/app' };
let dir: string;
before(async () => { dir = await mkdtemp(join(tmpdir(), 'switchyard-exec-')); });
after(async () => { await rm(dir, { recursive: true, force: true }); });

function execConfig(command: string[], over: Partial<ExecConfig> = {}): ExecConfig {
  return { type: 'exec', name: 'hook', timeout: 10_000, retries: 0, backoff: 0, onFailure: 'continue', command, env: {}, ...over };
}

// A killed process whose parent is gone may linger as a zombie until init reaps it: that is dead.
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function waitDead(pid: number): Promise<boolean> {
  for (let i = 0; i < 40 && alive(pid); i++) await delay(25);
  return !alive(pid);
}

test('the child gets PATH/LANG/TZ of deps.env (nothing else of it), config.env and the SWITCHYARD_* variables; its output is logged', async () => {
  const out = join(dir, 'env.json');
  const script = 'require("fs").writeFileSync(process.argv[1], JSON.stringify(process.env)); console.log("hello from the hook"); console.error("a warning")';
  const step = createExecStep(execConfig([NODE, '-e', script, out], { env: { EXTRA: 'x y', SWITCHYARD_EPOCH: 'overridden?' } }), { env: baseEnv });
  const log = captureLogger();
  const ctx = stepContext({ logger: log.logger, kind: 'switchover', reason: 'planned; "quoted" $HOME', forced: true, attempt: 2, idempotencyKey: 'switchyard:7:hook' });
  assert.match((await step.precheck!(ctx))?.detail ?? '', /^will run \//);
  const res = await step.run(ctx);
  assert.match(res?.detail ?? '', /^exit 0 in \d+ms$/);
  const env = JSON.parse(await readFile(out, 'utf8'));
  assert.equal(env.PATH, '/usr/bin:/bin');
  assert.equal(env.LANG, 'C.UTF-8');
  for (const k of ['HOME', 'SWITCHYARD_ADMIN_TOKEN', 'EAST_DATABASE_URL']) assert.equal(env[k], undefined, `${k} is not passed on`);
  assert.equal(env.EXTRA, 'x y');
  assert.equal(env.SWITCHYARD_EPOCH, '7', 'the SWITCHYARD_* variables win over config.env');
  assert.equal(env.SWITCHYARD_SOURCE, 'east');
  assert.equal(env.SWITCHYARD_TARGET, 'west');
  assert.equal(env.SWITCHYARD_KIND, 'switchover');
  assert.equal(env.SWITCHYARD_REASON, 'planned; "quoted" $HOME');
  assert.equal(env.SWITCHYARD_IDEMPOTENCY_KEY, 'switchyard:7:hook');
  assert.equal(env.SWITCHYARD_STEP, 'hook');
  assert.equal(env.SWITCHYARD_FORCED, '1');
  assert.equal(env.SWITCHYARD_ATTEMPT, '2');
  const line = log.lines.find((l) => /ran .* in \d+ms/.test(l.msg));
  assert.ok(line, 'a log line for the run');
  assert.equal(line.stdout, 'hello from the hook\n');
  assert.equal(line.stderr, 'a warning\n');
  assert.equal(line.exitCode, 0);
});

test('a non-zero exit is SWY_FAILOVER_EXEC_FAILED with the exit code; the output goes to the log (redacted), not into the error', async () => {
  const step = createExecStep(execConfig(['/bin/sh', '-c', 'echo partial; echo "cannot reach the API with tok-12345678" >&2; exit 3']), { env: baseEnv, redact: (t) => t.replaceAll('tok-12345678', '***') });
  const log = captureLogger();
  await assert.rejects(step.run(stepContext({ logger: log.logger })), (err) =>
    isSwitchyardError(err, 'SWY_FAILOVER_EXEC_FAILED') && err.details?.exitCode === 3 && /exited with code 3/.test(err.message)
    && !JSON.stringify({ m: err.message, d: err.details }).includes('cannot reach'));
  const line = log.lines.find((l) => l.level === 50 && l.exitCode === 3);
  assert.ok(line);
  assert.equal(line.stderr, 'cannot reach the API with ***\n');
  assert.equal(line.stdout, 'partial\n');
  assert.ok(!JSON.stringify(log.lines).includes('tok-12345678'), 'the secret is in the argv too: the logged argv is redacted');
});

test('the timeout kills the whole process group, even a child that ignores SIGTERM', async () => {
  const pids = join(dir, 'pids');
  // The shell ignores SIGTERM and so does its background child: only SIGKILL after the grace ends them.
  const script = `trap '' TERM; sleep 30 & echo $$ $! > ${pids}; wait`;
  const step = createExecStep(execConfig(['/bin/sh', '-c', script], { timeout: 300 }), { env: baseEnv, killGraceMs: 200 });
  const started = Date.now();
  await assert.rejects(step.run(stepContext({ logger: captureLogger().logger })), (err) =>
    isSwitchyardError(err, 'SWY_FAILOVER_EXEC_FAILED') && err.details?.timedOut === true && /timed out after 300ms/.test(err.message));
  const took = Date.now() - started;
  assert.ok(took >= 450 && took < 3000, `took ${took}ms (timeout 300 + grace 200)`);
  const [shell, sleeper] = (await readFile(pids, 'utf8')).trim().split(' ').map(Number);
  assert.ok(await waitDead(shell), 'the shell is gone');
  assert.ok(await waitDead(sleeper), 'its background child is gone');
});

test('abort (controller timeout or shutdown) kills the group and rejects with the signal reason', async () => {
  const step = createExecStep(execConfig(['/bin/sh', '-c', 'sleep 30']), { env: baseEnv });
  const controller = new AbortController();
  const reason = new Error('step timeout');
  setTimeout(() => controller.abort(reason), 100);
  const started = Date.now();
  await assert.rejects(step.run(stepContext({ logger: captureLogger().logger, signal: controller.signal })), (err) => err === reason);
  assert.ok(Date.now() - started < 2000);
});

test('processes left running by a hook that exited are killed with it', async () => {
  const pidFile = join(dir, 'bg');
  const step = createExecStep(execConfig(['/bin/sh', '-c', `sleep 30 > /dev/null 2>&1 & echo $! > ${pidFile}`]), { env: baseEnv });
  await step.run(stepContext({ logger: captureLogger().logger }));
  const pid = Number((await readFile(pidFile, 'utf8')).trim());
  assert.ok(await waitDead(pid), 'the background sleep is gone');
});

test('a missing binary fails precheck and run, naming it', async () => {
  const step = createExecStep(execConfig(['no-such-hook-binary', '--flag']), { env: baseEnv });
  const ctx = stepContext({ logger: captureLogger().logger });
  await assert.rejects(step.precheck!(ctx), (err) => isSwitchyardError(err, 'SWY_FAILOVER_EXEC_FAILED') && /no-such-hook-binary not found/.test(err.message));
  await assert.rejects(step.run(ctx), (err) => isSwitchyardError(err, 'SWY_FAILOVER_EXEC_FAILED') && /no-such-hook-binary not found/.test(err.message));
  const notExecutable = createExecStep(execConfig([join(dir, 'env.json')]), { env: baseEnv });
  await assert.rejects(notExecutable.precheck!(ctx), (err) => isSwitchyardError(err, 'SWY_FAILOVER_EXEC_FAILED') && /not executable/.test(err.message));
});

test('output beyond 64 KiB keeps only the tail', async () => {
  const script = 'process.stdout.write("A".repeat(100000) + "THE END")';
  const step = createExecStep(execConfig([NODE, '-e', script]), { env: baseEnv });
  const log = captureLogger();
  await step.run(stepContext({ logger: log.logger }));
  const line = log.lines.find((l) => /ran /.test(l.msg));
  assert.ok(line, 'a log line for the run');
  assert.equal(line.stdout.length, 64 * 1024);
  assert.ok(line.stdout.endsWith('THE END'));
  assert.equal(line.stdoutBytes, 100007);
});

test('a run left by a crash (journaled pid, still alive) is waited for up to the timeout, then its group is ended, before running again', async () => {
  const { spawn } = await import('node:child_process');
  const { ownerOf } = await import('../../../../src/routing/index.ts');
  const left = spawn('/bin/sh', ['-c', 'sleep 30'], { detached: true, stdio: 'ignore' });
  const recorded: number[] = [];
  const step = createExecStep(execConfig(['/bin/sh', '-c', 'exit 0'], { timeout: 300 }), { env: baseEnv, killGraceMs: 200 });
  const cap = captureLogger();
  const started = Date.now();
  await step.run({ ...stepContext({ logger: cap.logger }), previousProcess: ownerOf(left.pid!), recordProcess: async (p) => { recorded.push(p.pid); } });
  assert.ok(Date.now() - started >= 300, 'waited for the earlier run first');
  assert.ok(await waitDead(left.pid!), 'the earlier run was ended');
  assert.equal(recorded.length, 1, 'the new run was journaled');
  assert.notEqual(recorded[0], left.pid);

  // A journaled pid that is gone (or reused by another process) is not waited for.
  const quick = Date.now();
  await step.run({ ...stepContext({ logger: cap.logger }), previousProcess: { ...ownerOf(process.pid), startTicks: 1 } });
  assert.ok(Date.now() - quick < 300, 'a reused pid is not the earlier run');
});

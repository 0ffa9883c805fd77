// The status page as a person uses it, in headless Chromium against a real `switchyard serve`:
// it loads and shows both clusters, follows a failover live (server-sent events, no reload),
// shows a banner for a hold, and its buttons move traffic after a confirmation, with and
// without an admin token; a state file on a full filesystem shows the store banner and the
// refused move's error in place; and, with a real PostgreSQL primary and standby, each cluster's
// database role and the standby's lag, growing while its replay is paused. Screenshots land in
// test-artifacts/.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, screenshotPath } from '../support/browser.ts';
import { startHealthEndpoint, type HealthEndpoint } from '../support/health-endpoint.ts';
import { generateLag, pauseReplay, resumeReplay, startPostgresPair, waitCaughtUp, type PgPair } from '../support/postgres.ts';
import { startSwitchyard, type SwitchyardProcess } from '../support/switchyard-process.ts';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const config = (east: string, west: string, extra: string) => `
zone: { name: example.com, nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }] }
hostnames: [app.example.com]
clusters:
  - { name: east, addresses: [127.0.0.2], probes: [{ http: { url: "${east}" } }] }
  - { name: west, addresses: [127.0.0.3], probes: [{ http: { url: "${west}" } }] }
health: { interval: 300ms, timeout: 250ms, fall: 2, rise: 1, confirmInterval: 100ms }
dns: { listen: ["127.0.0.1:\${DNS_PORT}"] }
admin: { listen: "127.0.0.1:\${ADMIN_PORT}" }
${extra}`;

async function status(sy: SwitchyardProcess): Promise<{ active: string; state: string }> {
  return (await fetch(`${sy.adminUrl}/v1/status`)).json() as Promise<{ active: string; state: string }>;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await fn();
    if (v !== undefined) return v;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function bothHealthy(sy: SwitchyardProcess) {
  await until('both clusters healthy', async () => {
    const s = await (await fetch(`${sy.adminUrl}/v1/status`)).json() as { clusters: Array<{ healthy: boolean | null }> };
    return s.clusters.every((c) => c.healthy === true) ? true : undefined;
  });
}

let browser: Browser;
before(async () => {
  browser = await launchChromium();
  cleanups.push(() => browser.close());
});

// Tokyo (UTC+9, no daylight saving): a local time that can never be mistaken for UTC.
const TIME_ZONE = 'Asia/Tokyo';

async function open(sy: SwitchyardProcess, hash = ''): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 1000 }, timezoneId: TIME_ZONE, locale: 'en-US' });
  cleanups.push(() => page.close());
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  cleanups.push(async () => assert.deepEqual(errors, [], 'the page threw'));
  await page.goto(`${sy.adminUrl}/${hash}`);
  await page.waitForSelector('#active', { timeout: 15_000 });
  return page;
}

describe('console without a token, automatic failover', () => {
  let east: HealthEndpoint;
  let sy: SwitchyardProcess;
  before(async () => {
    east = await startHealthEndpoint('127.0.0.2');
    const west = await startHealthEndpoint('127.0.0.3');
    cleanups.push(() => east.kill(), () => west.kill());
    sy = await startSwitchyard({ config: config(east.url, west.url, 'failover: { automatic: true, cooldown: 0s }') });
    cleanups.push(() => sy.stop());
    await bothHealthy(sy);
  });

  test('loads, shows both clusters with their probes, and follows a failover live within 2 s', async () => {
    const page = await open(sy);
    assert.equal(await page.textContent('#active'), 'east');
    assert.deepEqual(await page.$$eval('article.cluster', (els) => els.map((e) => e.getAttribute('data-cluster'))), ['east', 'west']);
    await page.waitForFunction("document.querySelectorAll('article.cluster polyline').length === 2 && document.querySelector('#conn').textContent === 'live'", undefined, { timeout: 10_000 });
    await page.evaluate('window.marker = 42');
    await page.screenshot({ path: screenshotPath('console-steady'), fullPage: true });

    east.mode = 'fail';
    const movedAt = await until('the failover to west', async () => ((await status(sy)).active === 'west' ? Date.now() : undefined));
    await page.waitForFunction("document.querySelector('#active')?.textContent === 'west'", undefined, { timeout: 2000 });
    const shownAfter = Date.now() - movedAt;
    assert.ok(shownAfter <= 2000, `the page showed the failover ${shownAfter} ms after the API did`);
    assert.equal(await page.evaluate('window.marker'), 42, 'the page was not reloaded');
    await page.waitForSelector('article.move.current h3:has-text("failover east → west")', { timeout: 5000 });
    assert.match(await page.textContent('article.move.current') ?? '', /switch-traffic/);
    await page.waitForSelector('.banner[data-kind="active-down"]', { state: 'detached', timeout: 5000 });
    await page.screenshot({ path: screenshotPath('console-failed-over'), fullPage: true });

    // The timeline: each step with a duration; times in the browser's zone, UTC on hover.
    const durations = await page.$$eval('article.move.current table.steps tr td:nth-child(3)', (tds) => tds.map((td) => td.textContent));
    assert.ok(durations.length >= 1 && durations.every((d) => /^\d+(\.\d)? (ms|s|min)$/.test(d ?? '')), `step durations: ${JSON.stringify(durations)}`);
    const times = await page.$$eval('article.move.current time', (els) => els.map((e) => ({ iso: e.getAttribute('datetime')!, title: e.getAttribute('title'), text: e.textContent })));
    assert.ok(times.length >= 3, 'started, finished and the journal entries carry times');
    for (const t of times) {
      const d = new Date(t.iso);
      assert.equal(t.title, `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 19)} UTC`, 'UTC on hover');
      assert.equal(t.text, d.toLocaleString('en-US', { timeZone: TIME_ZONE }), 'shown in the browser\'s time zone');
    }
  });

  test('the fail-back button shows the dry-run plan, moves nothing on cancel, and moves on confirm', async () => {
    east.mode = 'ok';
    await bothHealthy(sy);
    const page = await open(sy);
    await page.click('button[data-action="failback"]');
    await page.waitForSelector('#confirm[open]', { timeout: 10_000 });
    assert.match(await page.textContent('#plan-message') ?? '', /failback west→east: every precheck passed; would proceed/);
    assert.match(await page.textContent('#confirm-body') ?? '', /DNS answers and the proxy upstream move from west to east/);
    await page.screenshot({ path: screenshotPath('console-confirm') });
    await page.click('#confirm-cancel');
    await page.waitForSelector('#result:has-text("cancelled: nothing moved")');
    assert.equal((await status(sy)).active, 'west');

    await page.click('button[data-action="failback"]');
    await page.waitForSelector('#confirm[open]', { timeout: 10_000 });
    await page.click('#confirm-ok');
    await page.waitForSelector('#result.ok:has-text("failback west→east completed")', { timeout: 20_000 });
    assert.equal((await status(sy)).active, 'east');
    await page.waitForFunction("document.querySelector('#active')?.textContent === 'east'", undefined, { timeout: 2000 });
    assert.equal(await page.locator('article.move').count(), 2, 'the previous move stays on the timeline');
  });

  test('when the server refuses another event stream (503), the page falls back to polling by itself', async () => {
    const streams: AbortController[] = [];
    cleanups.push(async () => { for (const c of streams) c.abort(); });
    let refused: Response | undefined;
    for (let i = 0; i < 40 && !refused; i++) {
      const c = new AbortController();
      const res = await fetch(`${sy.adminUrl}/v1/events`, { signal: c.signal });
      if (res.status === 503) refused = res;
      else { assert.equal(res.status, 200); streams.push(c); }
    }
    assert.ok(refused, 'the 33rd stream at the latest is refused');
    assert.equal((await refused.json() as { error: { code: string } }).error.code, 'SWY_ADMIN_UNAVAILABLE');
    const page = await open(sy);
    await page.waitForFunction("window.switchyardConsole.mode() === 'polling'", undefined, { timeout: 10_000 });
    assert.match(await page.textContent('#conn') ?? '', /polling every second/);
    for (const c of streams) c.abort();
    assert.equal(await page.textContent('#active'), (await status(sy)).active);
  });

  test('without server-sent events the page polls and still follows the state', async () => {
    await until('10 samples of west in the server\'s ring', async () => {
      const v = await (await fetch(`${sy.adminUrl}/v1/console`)).json() as { history: { probes: Array<{ cluster: string; ok: boolean[] }> } };
      return (v.history.probes.find((p) => p.cluster === 'west')?.ok.filter(Boolean).length ?? 0) >= 10 ? true : undefined;
    });
    const page = await open(sy, '#poll');
    assert.equal(await page.evaluate('window.switchyardConsole.mode()'), 'polling');
    // The chart starts from the server's ring, not empty: far more points than the page could have polled since it opened.
    const points = await page.$eval('article.cluster[data-cluster="west"] polyline', (e) => e.getAttribute('points')!.trim().split(' ').length);
    assert.ok(points >= 10, `west's chart shows ${points} samples right after loading`);
    await page.click('button[data-action="drill"]');
    await page.waitForSelector('#confirm[open]', { timeout: 10_000 });
    assert.match(await page.textContent('#plan-message') ?? '', /switchover east→west/);
    await page.click('#confirm-ok');
    await page.waitForSelector('#result.ok:has-text("switchover east→west completed")', { timeout: 20_000 });
    assert.match(await page.textContent('#result') ?? '', /switch-traffic/);
    await page.waitForFunction("document.querySelector('#active')?.textContent === 'west'", undefined, { timeout: 3000 });
  });
});

describe('console with a token, automatic failover off', () => {
  let east: HealthEndpoint;
  let sy: SwitchyardProcess;
  before(async () => {
    east = await startHealthEndpoint('127.0.0.2');
    const west = await startHealthEndpoint('127.0.0.3');
    cleanups.push(() => east.kill(), () => west.kill());
    sy = await startSwitchyard({ config: config(east.url, west.url, 'failover: { automatic: false, cooldown: 0s }'), env: { SWITCHYARD_ADMIN_TOKEN: 'sekret-token-1' } });
    cleanups.push(() => sy.stop());
    await bothHealthy(sy);
  });

  test('a hold shows a banner with its code and what to do; the button asks for the token and moves', async () => {
    const page = await open(sy);
    assert.equal(await page.locator('.banner').count(), 0);
    east.mode = 'fail';
    await page.waitForSelector('.banner[data-kind="held"]', { timeout: 15_000 });
    const banner = await page.textContent('.banner[data-kind="held"]') ?? '';
    assert.match(banner, /SWY_FAILOVER_HELD/);
    assert.match(banner, /automatic failover is off/);
    assert.match(banner, /What to do: a person decides/);
    assert.ok(await page.locator('.banner[data-kind="active-down"]').count() === 1, 'traffic to a down cluster has its own banner');
    await page.screenshot({ path: screenshotPath('console-held'), fullPage: true });

    await page.click('button[data-action="failover"][data-to="west"]');
    await page.waitForSelector('#token[open]', { timeout: 10_000 });
    await page.fill('#token-input', 'wrong-token');
    await page.click('#token-ok');
    await page.waitForSelector('#token[open]', { timeout: 10_000 });
    assert.equal((await status(sy)).active, 'east');
    await page.fill('#token-input', 'sekret-token-1');
    await page.click('#token-ok');
    await page.waitForSelector('#confirm[open]', { timeout: 10_000 });
    assert.match(await page.textContent('#plan-message') ?? '', /failover east→west: every precheck passed/);
    await page.click('#confirm-ok');
    await page.waitForSelector('#result.ok:has-text("failover east→west completed")', { timeout: 20_000 });
    assert.equal((await status(sy)).active, 'west');
    assert.equal(await page.evaluate('localStorage.length + sessionStorage.length + document.cookie.length'), 0, 'the token is kept in memory only');
    await page.waitForSelector('.banner[data-kind="held"]', { state: 'detached', timeout: 5000 });
  });
});

interface DbView { role: string; lagBytes: number | null; receiveLagBytes: number | null; lagSeconds: number | null; replayPaused: boolean; replication: { state: string; syncState: string } | null; lsn: string | null; error: string | null }

describe('console with a database per cluster (real PostgreSQL)', () => {
  let pair: PgPair;
  let sy: SwitchyardProcess;
  const databases = async () => {
    const s = await (await fetch(`${sy.adminUrl}/v1/status`)).json() as { clusters: Array<{ name: string; database: DbView | null }> };
    return Object.fromEntries(s.clusters.map((c) => [c.name, c.database])) as Record<string, DbView>;
  };
  const lagShown = async (page: Page) => Number(await page.getAttribute('article.cluster[data-cluster="west"] .db-lag', 'data-lag-bytes'));
  before(async () => {
    pair = await startPostgresPair({ synchronous: false });
    cleanups.push(() => pair.stop());
    const east = await startHealthEndpoint('127.0.0.2');
    const west = await startHealthEndpoint('127.0.0.3');
    cleanups.push(() => east.kill(), () => west.kill());
    const withDb = config(east.url, west.url, 'failover: { automatic: false, cooldown: 0s, steps: [switch-traffic, postgres-fence, { postgres-promote: { maxLagBytes: 65536 } }] }')
      .replace(`probes: [{ http: { url: "${east.url}" } }] }`, `probes: [{ http: { url: "${east.url}" } }], database: { url: "${pair.primary.url}" } }`)
      .replace(`probes: [{ http: { url: "${west.url}" } }] }`, `probes: [{ http: { url: "${west.url}" } }], database: { url: "${pair.standby.url}" } }`);
    assert.match(withDb, /database: \{ url: "postgres:.*\n.*database: \{ url: "postgres:/, 'both clusters got a database');
    // One replayed commit, so the standby has a replay timestamp to count seconds from.
    await generateLag(pair.primary, { rows: 1 });
    await waitCaughtUp(pair.primary, pair.standby);
    sy = await startSwitchyard({ config: withDb });
    cleanups.push(() => sy.stop());
  });

  test('status and page show primary and standby, and the lag grows while replay is paused', async (t) => {
    const caughtUp = await until('east primary, west a streaming standby with no lag', async () => {
      const d = await databases();
      return d.east.role === 'primary' && d.west.role === 'standby' && d.west.lagBytes === 0 && d.west.replication?.state === 'streaming' ? d : undefined;
    });
    assert.match(caughtUp.east.lsn ?? '', /^[0-9A-F]+\/[0-9A-F]+$/);
    assert.equal(caughtUp.west.lagSeconds, 0, 'a caught-up standby is 0 s behind');
    assert.equal(caughtUp.west.replication?.syncState, 'async');

    const page = await open(sy);
    await page.waitForSelector('article.cluster[data-cluster="east"] .db[data-role="primary"]', { timeout: 10_000 });
    await page.waitForSelector('article.cluster[data-cluster="west"] .db[data-role="standby"]', { timeout: 10_000 });
    assert.equal(await lagShown(page), 0);
    assert.match(await page.textContent('article.cluster[data-cluster="west"] .db') ?? '', /lag 0 B, 0 ms · streaming, async/);

    await pauseReplay(pair.standby);
    t.after(() => resumeReplay(pair.standby).catch(() => {}));
    await generateLag(pair.primary, { rows: 2000 });
    const first = await until('a lag in bytes and seconds while replay is paused', async () => {
      const d = (await databases()).west;
      // The WAL reaches the standby a moment after the primary wrote it: wait until it is received
      // (what is missing then is only replay, which is paused).
      return d.replayPaused && d.lagBytes !== null && d.lagBytes > 100_000 && d.lagSeconds !== null && d.lagSeconds > 0
        && d.receiveLagBytes !== null && d.receiveLagBytes < d.lagBytes ? d : undefined;
    });
    assert.ok(first.receiveLagBytes !== null && first.receiveLagBytes < first.lagBytes!, `received (${first.receiveLagBytes} behind) is ahead of replayed (${first.lagBytes} behind): replay is what is paused`);
    await generateLag(pair.primary, { rows: 2000 });
    const second = await until('the lag to grow with more WAL', async () => {
      const d = (await databases()).west;
      return d.lagBytes !== null && d.lagBytes > first.lagBytes! + 100_000 && d.lagSeconds! > first.lagSeconds! ? d : undefined;
    });
    await page.waitForFunction(`Number(document.querySelector('article.cluster[data-cluster="west"] .db-lag')?.dataset.lagBytes) >= ${second.lagBytes}`, undefined, { timeout: 5000 });
    assert.match(await page.textContent('article.cluster[data-cluster="west"] .db') ?? '', /lag [\d.]+ (KiB|MiB), [\d.]+ (ms|s|min).*replay paused/);
    await page.screenshot({ path: screenshotPath('console-database-lag'), fullPage: true });

    await resumeReplay(pair.standby);
    await until('the lag back to 0 once replay resumes', async () => ((await databases()).west.lagBytes === 0 ? true : undefined));
    await page.waitForFunction("document.querySelector('article.cluster[data-cluster=\"west\"] .db-lag')?.dataset.lagBytes === '0'", undefined, { timeout: 5000 });
  });

  test('after a failover from the console, west is the primary and east the old primary, not a standby', async () => {
    const page = await open(sy);
    await page.click('button[data-action="failover"][data-to="west"]');
    await page.waitForSelector('#confirm[open]', { timeout: 10_000 });
    assert.match(await page.textContent('#confirm-body') ?? '', /postgres-promote/);
    await page.click('#confirm-ok');
    await page.waitForSelector('#result.ok:has-text("east→west completed")', { timeout: 30_000 });
    const d = await until('west primary, east the old primary', async () => {
      const x = await databases();
      // A round that started before the move can still report east as the active primary: wait
      // for the first round taken with west active (it names east the old primary).
      return x.west.role === 'primary' && x.east.role === 'primary' && x.east.error !== null ? x : undefined;
    });
    assert.match(d.west.lsn ?? '', /^[0-9A-F]+\/[0-9A-F]+$/, 'the active primary\'s position');
    assert.equal(d.west.error, null);
    assert.match(d.east.error ?? '', /a primary too while west is active .*not a standby of west until rebuilt/);
    assert.equal(d.east.lagBytes, null, 'a primary has no lag figure');
    await page.waitForSelector('article.cluster[data-cluster="west"] .db[data-role="primary"]', { timeout: 5000 });
    await page.waitForSelector('article.cluster[data-cluster="east"] .db[data-role="primary"] .db-error', { timeout: 5000 });
  });

  test('a database that stops answering shows as unreachable', async () => {
    await pair.primary.stop('fast');
    const d = await until('east unreachable', async () => { const e = (await databases()).east; return e.role === 'unreachable' ? e : undefined; });
    assert.match(d.error ?? '', new RegExp(`127\\.0\\.0\\.1:${pair.primary.port}`));
    assert.equal(d.lagBytes, null, 'no lag figure for a database that does not answer');
    const page = await open(sy);
    await page.waitForSelector('article.cluster[data-cluster="east"] .db[data-role="unreachable"]', { timeout: 5000 });
    assert.equal((await databases()).west.role, 'primary');
  });
});

describe('console when the state store cannot be written', () => {
  let sy: SwitchyardProcess;
  let mnt: string;
  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'swy-console-store-'));
    mnt = join(dir, 'mnt');
    mkdirSync(mnt);
    // A small filesystem of its own (root, as in CI and the safety test): filling it fails the next write.
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt]);
    cleanups.push(async () => { execFileSync('umount', ['-l', mnt]); rmSync(dir, { recursive: true, force: true }); });
    const east = await startHealthEndpoint('127.0.0.2');
    const west = await startHealthEndpoint('127.0.0.3');
    cleanups.push(() => east.kill(), () => west.kill());
    sy = await startSwitchyard({ config: config(east.url, west.url, `failover: { automatic: false }\nstate: { file: "${join(mnt, 'state.json')}" }`) });
    cleanups.push(() => sy.stop());
    await bothHealthy(sy);
  });

  test('a refused move shows its error in place and the store banner appears, then clears once space is back', async () => {
    const page = await open(sy);
    assert.equal(await page.locator('.banner').count(), 0);
    try { execFileSync('dd', ['if=/dev/zero', `of=${join(mnt, 'fill')}`, 'bs=64k'], { stdio: 'ignore' }); } catch { /* ENOSPC: full, as intended */ }
    await page.click('button[data-action="failover"][data-to="west"]');
    await page.waitForSelector('#confirm[open]', { timeout: 10_000 });
    await page.click('#confirm-ok');
    await page.waitForSelector('#result.error', { timeout: 20_000 });
    assert.match(await page.textContent('#result') ?? '', /SWY_STATE_WRITE/);
    assert.equal((await status(sy)).active, 'east', 'a move that cannot be recorded does not happen');
    await page.waitForSelector('.banner[data-kind="store"]', { timeout: 5000 });
    const banner = await page.textContent('.banner[data-kind="store"]') ?? '';
    assert.match(banner, /SWY_STATE_WRITE the routing state cannot be written \(file .*state\.json\)/);
    assert.match(banner, /ENOSPC/);
    assert.match(banner, /What to do: no move can be recorded/);
    const since = await page.$eval('.banner[data-kind="store"] time', (e) => ({ iso: e.getAttribute('datetime')!, text: e.textContent }));
    assert.equal(since.text, new Date(since.iso).toLocaleString('en-US', { timeZone: TIME_ZONE }), 'the banner\'s time in the browser\'s zone too');
    await page.screenshot({ path: screenshotPath('console-store-failing'), fullPage: true });
    unlinkSync(join(mnt, 'fill'));
    // The store check writes the state again every 5 s; the banner goes on its own.
    await page.waitForSelector('.banner[data-kind="store"]', { state: 'detached', timeout: 15_000 });
  });
});

// Load generator of the failover run: a steady stream of GETs (CONCURRENCY at a time, REQUESTS
// at most, DURATION_MS at most) through one proxy; prints one JSON line with requests sent,
// failed (non-200 or error), the longest single request (the stall a user would feel), the
// longest gap between two completed requests, and which origin answered.
// Args: URL. Env: CONCURRENCY, REQUESTS, DURATION_MS.
import { Pool } from 'undici';

const url = new URL(process.argv[2]);
const concurrency = Number(process.env.CONCURRENCY ?? 8);
const total = Number(process.env.REQUESTS ?? 1_000_000);
const deadline = Date.now() + Number(process.env.DURATION_MS ?? 10_000);
const pool = new Pool(url.origin, { connections: concurrency, allowH2: false, headersTimeout: 10_000, bodyTimeout: 10_000 });

let sent = 0;
let failed = 0;
let longestMs = 0;
let lastDone = performance.now();
let longestGapMs = 0;
const errors = new Map<string, number>();
const byOrigin = new Map<string, number>();

async function worker(): Promise<void> {
  while (sent < total && Date.now() < deadline) {
    sent++;
    const t0 = performance.now();
    let error: string | undefined;
    try {
      const res = await pool.request({ path: url.pathname, method: 'GET', headers: { host: 'app.example.com' } });
      const body = await res.body.text();
      if (res.statusCode !== 200) error = `HTTP ${res.statusCode} ${String(res.headers['x-switchyard-error'] ?? '')}`.trim();
      else byOrigin.set(body.trim(), (byOrigin.get(body.trim()) ?? 0) + 1);
    } catch (err) {
      error = (err as { code?: string }).code ?? String(err);
    }
    const now = performance.now();
    if (error !== undefined) {
      failed++;
      errors.set(error, (errors.get(error) ?? 0) + 1);
    }
    longestMs = Math.max(longestMs, now - t0);
    longestGapMs = Math.max(longestGapMs, now - lastDone);
    lastDone = now;
  }
}

await Promise.all(Array.from({ length: concurrency }, worker));
await pool.close();
process.stdout.write(`${JSON.stringify({ sent, failed, longestMs, longestGapMs, errors: Object.fromEntries(errors), byOrigin: Object.fromEntries(byOrigin) })}\n`);

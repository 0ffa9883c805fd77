// The check every server must pass before it is loaded: dig gets the benchmark's answer
// (app.example.com A 127.0.0.2, TTL 30, AA) and the apex NS with its glue.
import { execFile } from 'node:child_process';
import { HOST, NS, PRIMARY, TTL, ZONE } from './zone.ts';
import type { Pinned } from './processes.ts';

export function dig(port: number, name: string, type: string): Promise<string> {
  return new Promise((res) => {
    execFile('dig', ['@127.0.0.1', '-p', String(port), name, type, '+norec', '+time=1', '+tries=1'], { timeout: 5000 }, (err, stdout, stderr) => {
      res(err ? `${stdout}${stderr}\n(dig: ${err.message})` : stdout);
    });
  });
}

const esc = (s: string) => s.replace(/\./g, '\\.');

/** What is wrong with dig's output for `HOST A` (empty when it is the expected answer). */
export function problemsWithA(out: string): string[] {
  const problems: string[] = [];
  if (!/status: NOERROR/.test(out)) problems.push('status is not NOERROR');
  if (!/flags:[^;]*\baa\b/.test(out)) problems.push('AA flag not set');
  if (!new RegExp(`^${esc(HOST)}\\.\\s+${TTL}\\s+IN\\s+A\\s+${esc(PRIMARY)}$`, 'm').test(out)) problems.push(`answer is not "${HOST}. ${TTL} IN A ${PRIMARY}"`);
  return problems;
}

/** What is wrong with dig's output for `ZONE NS` (the NS in the answer). */
export function problemsWithNs(out: string): string[] {
  const problems: string[] = [];
  if (!/status: NOERROR/.test(out)) problems.push('status is not NOERROR');
  if (!new RegExp(`^${esc(ZONE)}\\.\\s+\\d+\\s+IN\\s+NS\\s+${esc(NS.name)}\\.$`, 'm').test(out)) problems.push(`no "${ZONE}. IN NS ${NS.name}." in the answer`);
  return problems;
}

/** Whether an NS reply carries the nameserver's address in its additional section (optional: gdnsd adds glue only to referrals). */
export function hasGlue(out: string): boolean {
  const additional = out.split(';; ADDITIONAL SECTION:')[1] ?? '';
  return new RegExp(`^${esc(NS.name)}\\.\\s+\\d+\\s+IN\\s+A\\s+${esc(NS.address)}$`, 'm').test(additional);
}

/**
 * Polls until the server gives the expected answer (it may still be starting, or still waiting
 * for its first health checks), then checks the apex NS.
 * Throws with dig's last output and the server's log when it does not. Returns whether the NS
 * reply carried glue, for the report.
 */
export async function waitForSaneAnswers(server: Pinned, port: number, timeoutMs: number): Promise<{ nsGlue: boolean }> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    if (!server.alive()) throw new Error(`${server.name} exited before answering:\n${server.output()}`);
    last = await dig(port, HOST, 'A');
    if (problemsWithA(last).length === 0) break;
    await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** attempt, 500)));
  }
  const aProblems = problemsWithA(last);
  if (aProblems.length > 0) {
    throw new Error(`${server.name} did not give the expected answer within ${timeoutMs} ms (${aProblems.join('; ')}).\nLast dig:\n${last}\n${server.name} output:\n${server.output()}`);
  }
  const ns = await dig(port, ZONE, 'NS');
  const nsProblems = problemsWithNs(ns);
  if (nsProblems.length > 0) throw new Error(`${server.name}: wrong NS answer (${nsProblems.join('; ')}):\n${ns}`);
  return { nsGlue: hasGlue(ns) };
}

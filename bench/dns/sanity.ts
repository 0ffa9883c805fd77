// The check every server must pass before it is loaded: dig gets the benchmark's answer
// (app.example.com A 127.0.0.2, TTL 30, AA) and the apex NS with its glue.
import { dig, type DigResult } from '../../test/support/dig.ts';
import type { Child } from '../support/processes.ts';
import { HOST, NS, PRIMARY, TTL, ZONE } from './zone.ts';

const esc = (s: string) => s.replace(/\./g, '\\.');
const query = (port: number, name: string, type: string) => dig(port, [name, type, '+norec']);

/** What is wrong with dig's reply to `HOST A` (empty when it is the expected answer). */
export function problemsWithA(r: DigResult): string[] {
  const problems: string[] = [];
  if (r.status !== 'NOERROR') problems.push('status is not NOERROR');
  if (!r.flags.includes('aa')) problems.push('AA flag not set');
  if (!r.answers.includes(`${HOST}. ${TTL} IN A ${PRIMARY}`)) problems.push(`answer is not "${HOST}. ${TTL} IN A ${PRIMARY}"`);
  return problems;
}

/** What is wrong with dig's reply to `ZONE NS` (the NS in the answer). */
export function problemsWithNs(r: DigResult): string[] {
  const problems: string[] = [];
  if (r.status !== 'NOERROR') problems.push('status is not NOERROR');
  const ns = new RegExp(`^${esc(ZONE)}\\. \\d+ IN NS ${esc(NS.name)}\\.$`);
  if (!r.answers.some((l) => ns.test(l))) problems.push(`no "${ZONE}. IN NS ${NS.name}." in the answer`);
  return problems;
}

/** Whether an NS reply carries the nameserver's address in its additional section (optional: gdnsd adds glue only to referrals). */
export function hasGlue(r: DigResult): boolean {
  const glue = new RegExp(`^${esc(NS.name)}\\. \\d+ IN A ${esc(NS.address)}$`);
  return r.additional.some((l) => glue.test(l));
}

/**
 * Polls until the server gives the expected answer (it may still be starting, or still waiting
 * for its first health checks), then checks the apex NS (unless the server answers only the
 * benchmark's query: the anchor).
 * Throws with dig's last output and the server's log when it does not. Returns whether the NS
 * reply carried glue, for the report.
 */
export async function waitForSaneAnswers(server: Child, port: number, timeoutMs: number, answersZone = true): Promise<{ nsGlue: boolean }> {
  const deadline = Date.now() + timeoutMs;
  let last: DigResult | undefined;
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    if (!server.alive()) throw new Error(`${server.name} exited before answering:\n${server.output()}`);
    last = await query(port, HOST, 'A');
    if (problemsWithA(last).length === 0) break;
    await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** attempt, 500)));
  }
  const aProblems = last ? problemsWithA(last) : ['no dig ran'];
  if (aProblems.length > 0) {
    throw new Error(`${server.name} did not give the expected answer within ${timeoutMs} ms (${aProblems.join('; ')}).\nLast dig:\n${last?.raw ?? ''}\n${server.name} output:\n${server.output()}`);
  }
  if (!answersZone) return { nsGlue: false };
  const ns = await query(port, ZONE, 'NS');
  const nsProblems = problemsWithNs(ns);
  if (nsProblems.length > 0) throw new Error(`${server.name}: wrong NS answer (${nsProblems.join('; ')}):\n${ns.raw}`);
  return { nsGlue: hasGlue(ns) };
}

// dig, the reference DNS client, spawned for real. Missing dig is a loud failure, never a skip.
import { execFile } from 'node:child_process';

export interface DigResult { status: string; flags: string[]; answers: string[]; authority: string[]; additional: string[]; raw: string }

/** Runs `dig @host -p port ARGS...` and parses the header, flags and sections of its output. */
export function dig(port: number, args: string[], host = '127.0.0.1'): Promise<DigResult> {
  return new Promise((resolve, reject) => {
    execFile('dig', [`@${host}`, '-p', String(port), '+time=2', '+tries=1', ...args], { timeout: 10_000 }, (err, stdout) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new Error('dig not found: install Debian package dnsutils (.ci/run does)'));
        return;
      }
      if (err && !stdout) { reject(err); return; }
      const section = (name: string) => {
        const m = new RegExp(`;; ${name} SECTION:\\n([\\s\\S]*?)(?:\\n\\n|$)`).exec(stdout);
        return m ? m[1].split('\n').filter((l) => l && !l.startsWith(';')).map((l) => l.replace(/\s+/g, ' ').trim()) : [];
      };
      resolve({
        status: /status: ([A-Z]+)/.exec(stdout)?.[1] ?? 'NO-REPLY',
        flags: (/;; flags: ([a-z ]+)[;:]/.exec(stdout)?.[1] ?? '').trim().split(/\s+/).filter(Boolean),
        answers: section('ANSWER'),
        authority: section('AUTHORITY'),
        additional: section('ADDITIONAL'),
        raw: stdout,
      });
    });
  });
}

/** The addresses dig gets for `name` (A by default), sorted. */
export async function digShort(port: number, name: string, type = 'A'): Promise<string[]> {
  const r = await dig(port, [name, type, '+norec']);
  return r.answers.map((l) => l.split(' ').at(-1)!).sort();
}

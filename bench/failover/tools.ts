// The programs the benchmark runs, checked before anything starts: a missing one is a clear
// error naming the Debian package, never a silently skipped row.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export interface Tool { name: string; pkg: string; version: string }

function run(command: string, args: string[]): { missing: boolean; text: string } {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: 10_000 });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') return { missing: true, text: '' };
  return { missing: false, text: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

const first = (text: string, re: RegExp) => re.exec(text)?.[1] ?? 'unknown version';

/** Versions of the tools the chosen servers need; throws listing every missing package. */
export function checkTools(need: { gdnsd: boolean; pdns: boolean }): Tool[] {
  const missing: string[] = [];
  const found: Tool[] = [];
  const dig = run('dig', ['-v']);
  if (dig.missing) missing.push('dig: Debian package bind9-dnsutils (or dnsutils)');
  else found.push({ name: 'dig', pkg: 'bind9-dnsutils', version: first(dig.text, /DiG (\S+)/) });
  if (need.gdnsd) {
    const g = run('gdnsd', []);
    if (g.missing) missing.push('gdnsd: Debian package gdnsd');
    else found.push({ name: 'gdnsd', pkg: 'gdnsd', version: first(g.text, /gdnsd version (\S+)/) });
  }
  if (need.pdns) {
    const p = run('pdns_server', ['--version']);
    if (p.missing) missing.push('pdns_server: Debian package pdns-server');
    else {
      found.push({ name: 'pdns_server', pkg: 'pdns-server', version: first(p.text, /PowerDNS Authoritative Server (\S+)/) });
      const moduleDir = first(run('pdns_server', ['--config=default']).text, /^# module-dir=(\S+)$/m);
      if (!existsSync(join(moduleDir, 'libbindbackend.so'))) missing.push(`the bind backend (${join(moduleDir, 'libbindbackend.so')}): Debian package pdns-backend-bind`);
    }
  }
  if (missing.length > 0) {
    throw new Error(`the failover benchmark needs these, install them (apt-get install gdnsd pdns-server pdns-backend-bind bind9-dnsutils):\n${missing.map((m) => `  - ${m}`).join('\n')}`);
  }
  return found;
}

// The programs the failover benchmark runs for the servers chosen, checked before anything
// starts (a missing one exits 2 naming its Debian package), with their versions for the report.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { commandOutput, requireTools, versionOf, type Tool } from '../support/tools.ts';

const bindBackend = () => join(/^# module-dir=(\S+)$/m.exec(commandOutput('pdns_server', ['--config=default']))?.[1] ?? '', 'libbindbackend.so');

/** "name version" of each tool the chosen servers need; exits 2 when any is missing. */
export function checkTools(need: { gdnsd: boolean; pdns: boolean }): string[] {
  const tools: Tool[] = [{ name: 'dig', pkg: 'dnsutils' }];
  if (need.gdnsd) tools.push({ name: 'gdnsd', pkg: 'gdnsd' });
  if (need.pdns) {
    tools.push({ name: 'pdns_server', pkg: 'pdns-server' });
    tools.push({ name: 'the PowerDNS bind backend (libbindbackend.so)', pkg: 'pdns-backend-bind', present: () => existsSync(bindBackend()) });
  }
  requireTools('bench:failover', tools, 2);
  const versions = [`dig ${versionOf('dig', ['-v'], /DiG (\S+)/)}`];
  if (need.gdnsd) versions.push(`gdnsd ${versionOf('gdnsd', [], /gdnsd version (\S+)/)}`);
  if (need.pdns) versions.push(`pdns_server ${versionOf('pdns_server', ['--version'], /PowerDNS Authoritative Server (\S+)/)}`);
  return versions;
}

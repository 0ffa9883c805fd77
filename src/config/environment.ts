// What a valid configuration still needs from the machine it runs on: readable probe CA files
// and kubeconfigs, exec commands that exist and are executable. `validate` reports these and
// `serve` checks the same before it starts, so a configuration that validates also starts.
// Errors stop the start; warnings (notification hooks, which never block anything) are logged.
import { fs } from '../node-builtins.ts';
import { access, readFile } from 'node:fs/promises';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import type { ConfigIssue } from './fields.ts';
import type { Config } from './types.ts';

const { constants } = fs;

/** The executable `command` resolves to (PATH lookup for a bare name), or undefined when there is none. */
export async function findExecutable(command: string, env: Readonly<Record<string, string | undefined>>): Promise<string | undefined> {
  const candidates = command.includes('/') ? [isAbsolute(command) ? command : resolve(command)] : (env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, command));
  for (const c of candidates) {
    try {
      await access(c, constants.X_OK);
      return c;
    } catch { /* next */ }
  }
  return undefined;
}

async function unreadable(file: string): Promise<string | undefined> {
  try {
    await readFile(file);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

export interface EnvironmentReport { errors: ConfigIssue[]; warnings: ConfigIssue[] }

export async function checkEnvironment(config: Config, env: Readonly<Record<string, string | undefined>>): Promise<EnvironmentReport> {
  const errors: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  for (const [i, c] of config.clusters.entries()) {
    for (const [j, p] of c.probes.entries()) {
      if (p.kind !== 'http' || p.ca === undefined) continue;
      const why = await unreadable(p.ca);
      if (why) errors.push({ path: `clusters[${i}].probes[${j}].${p.url.startsWith('https:') ? 'https' : 'http'}.ca`, message: `cannot read the CA file: ${why}` });
    }
    if (c.kubernetes?.kubeconfig !== undefined) {
      const why = await unreadable(c.kubernetes.kubeconfig);
      if (why) errors.push({ path: `clusters[${i}].kubernetes.kubeconfig`, message: `cannot read the kubeconfig: ${why}` });
    }
  }
  const missing = async (command: string[], extra: Record<string, string>) => (await findExecutable(command[0], { ...env, ...extra })) === undefined;
  for (const [i, s] of config.failover.steps.entries()) {
    if (s.type !== 'exec' || !(await missing(s.command, s.env))) continue;
    const issue = { path: `failover.steps[${i}].exec.command[0]`, message: `command ${s.command[0]} does not exist or is not executable` };
    if (s.onFailure === 'continue') warnings.push({ ...issue, message: `${issue.message}; a notification step (onFailure: continue), so it would not block a failover, but it would not notify anyone either` });
    else errors.push(issue);
  }
  for (const [i, n] of config.notify.entries()) {
    if (n.type !== 'exec' || !(await missing(n.command, n.env))) continue;
    warnings.push({ path: `notify[${i}].exec.command[0]`, message: `command ${n.command[0]} does not exist or is not executable; nobody would be told through it` });
  }
  return { errors, warnings };
}

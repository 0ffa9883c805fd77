// The programs a benchmark runs, checked before anything starts: a missing one is named with the
// Debian package that brings it, never a silently skipped row. And their version lines, for the
// report.
import { accessSync, constants } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { delimiter, join } from 'node:path';

export interface Tool {
  /** The executable, or what is checked when `present` is given. */
  name: string;
  /** The Debian package that brings it. */
  pkg: string;
  /** Whether it is installed; by default, whether `name` is an executable on PATH. */
  present?: () => boolean;
}

export function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try { accessSync(join(dir, command), constants.X_OK); return true; } catch { return false; }
  });
}

/** When any tool is missing: prints them and the apt-get line on stderr and exits with `exitCode`. */
export function requireTools(bench: string, tools: Tool[], exitCode: number): void {
  const missing = tools.filter((t) => !(t.present ?? (() => onPath(t.name)))());
  if (missing.length === 0) return;
  process.stderr.write(`${bench}: missing ${missing.map((m) => m.name).join(', ')}: install with\n  apt-get install ${[...new Set(missing.map((m) => m.pkg))].join(' ')}\n`);
  process.exit(exitCode);
}

/** stdout and stderr of `command args` (empty when it cannot be run). */
export function commandOutput(command: string, args: string[]): string {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: 10_000 });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`;
}

/** The first group of `re` in what `command args` prints, or 'unknown version'. */
export function versionOf(command: string, args: string[], re: RegExp): string {
  return re.exec(commandOutput(command, args))?.[1] ?? 'unknown version';
}

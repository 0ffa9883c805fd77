// File store: the state as JSON, written atomically (temp file in the same folder, fsync,
// rename, fsync the folder) so a crash leaves either the old or the new state, never half.
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SwitchyardError } from '../errors.ts';
import type { RoutingState, StateStore } from './types.ts';
import { stateProblem } from './validate-state.ts';

export function createFileStore(options: { file: string }): StateStore {
  const { file } = options;
  let writes = 0;

  async function load(): Promise<RoutingState | null> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new SwitchyardError('SWY_STATE_READ', `cannot read state file ${file}: ${(err as Error).message}`, { file }, { cause: err });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new SwitchyardError('SWY_STATE_CORRUPT', `state file ${file} is not valid JSON (${(err as Error).message}); fix or remove it deliberately, switchyard will not guess the active cluster`, { file });
    }
    const problem = stateProblem(parsed);
    if (problem) throw new SwitchyardError('SWY_STATE_CORRUPT', `state file ${file} is corrupt: ${problem}; fix or remove it deliberately, switchyard will not guess the active cluster`, { file });
    return parsed as RoutingState;
  }

  async function save(next: RoutingState, expectedGeneration: number): Promise<void> {
    const current = await load();
    const stored = current?.generation ?? 0;
    if (stored !== expectedGeneration) {
      throw new SwitchyardError('SWY_STATE_CONFLICT', `state file ${file} is at generation ${stored}, expected ${expectedGeneration}`, { file, stored, expectedGeneration });
    }
    const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${++writes}.tmp`);
    try {
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(`${JSON.stringify(next, null, 2)}\n`);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, file);
      const dir = await open(dirname(file), 'r');
      try { await dir.sync(); } finally { await dir.close(); }
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw new SwitchyardError('SWY_STATE_WRITE', `cannot write state file ${file}: ${(err as Error).message}`, { file }, { cause: err });
    }
  }

  return { description: `file ${file}`, load, save };
}

// File store: the state as JSON, written atomically (temp file in the same folder, fsync,
// rename, fsync the folder) so a crash leaves either the old or the new state, never half.
//
// Every write also goes to a second copy beside the file (`<file>.copy`, written the same way,
// after the file). The copy is what keeps a restart from silently beginning at the primary again
// after a failover: when the file is missing at start but the copy is there, the state is
// restored from the copy (and the restore is reported); only when both are missing is it a first
// start. check() notices, while running, a file that went missing (restore() rewrites it from
// memory) or that changed underneath.
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SwitchyardError, describeError } from '../errors.ts';
import type { RoutingState, StateStore, StoreCheck, StoreNotice } from './types.ts';
import { stateProblem } from './validate-state.ts';

export const copyPath = (file: string): string => `${file}.copy`;

export function createFileStore(options: { file: string }): StateStore {
  const { file } = options;
  const copy = copyPath(file);
  let writes = 0;
  let copyError: string | null = null;
  const pending: StoreNotice[] = [];

  async function read(path: string): Promise<RoutingState | null> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new SwitchyardError('SWY_STATE_READ', `cannot read state file ${path}: ${(err as Error).message}`, { file: path }, { cause: err });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new SwitchyardError('SWY_STATE_CORRUPT', `state file ${path} is not valid JSON (${(err as Error).message}); fix or remove it deliberately, switchyard will not guess the active cluster`, { file: path });
    }
    const problem = stateProblem(parsed);
    if (problem) throw new SwitchyardError('SWY_STATE_CORRUPT', `state file ${path} is corrupt: ${problem}; fix or remove it deliberately, switchyard will not guess the active cluster`, { file: path });
    return parsed as RoutingState;
  }

  async function writeAtomically(path: string, state: RoutingState): Promise<void> {
    const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${++writes}.tmp`);
    try {
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(`${JSON.stringify(state, null, 2)}\n`);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
      const dir = await open(dirname(path), 'r');
      try { await dir.sync(); } finally { await dir.close(); }
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw new SwitchyardError('SWY_STATE_WRITE', `cannot write state file ${path}: ${(err as Error).message}`, { file: path }, { cause: err });
    }
  }

  /** The copy follows the file; a copy that cannot be written is reported by check(), the write itself stands. */
  async function writeCopy(state: RoutingState): Promise<void> {
    try {
      await writeAtomically(copy, state);
      copyError = null;
    } catch (err) {
      copyError = describeError(err);
    }
  }

  async function load(): Promise<RoutingState | null> {
    const state = await read(file);
    if (state !== null) return state;
    const saved = await read(copy);
    if (saved === null) return null;
    await writeAtomically(file, saved);
    pending.push({ code: 'SWY_STATE_MISSING', message: `state file ${file} was missing; restored it from its copy ${copy} (generation ${saved.generation}, ${saved.active} active, ${saved.state}) instead of starting again at the primary` });
    return saved;
  }

  async function save(next: RoutingState, expectedGeneration: number): Promise<void> {
    const current = await read(file);
    const stored = current?.generation ?? 0;
    if (current === null && expectedGeneration > 0) {
      throw new SwitchyardError('SWY_STATE_MISSING', `state file ${file} is missing (deleted while switchyard was running?); the change is not applied until the file is rewritten from memory`, { file, expectedGeneration });
    }
    if (stored !== expectedGeneration) {
      throw new SwitchyardError('SWY_STATE_CONFLICT', `state file ${file} is at generation ${stored}, expected ${expectedGeneration}`, { file, stored, expectedGeneration });
    }
    await writeAtomically(file, next);
    await writeCopy(next);
  }

  async function check(currentState: RoutingState): Promise<StoreCheck> {
    let stored: RoutingState | null;
    try {
      stored = await read(file);
    } catch (err) {
      return { ok: false, problem: 'unreadable', code: 'SWY_STATE_READ', message: describeError(err) };
    }
    if (stored === null) return { ok: false, problem: 'missing', code: 'SWY_STATE_MISSING', message: `state file ${file} is missing (deleted while switchyard was running?)` };
    if (stored.generation !== currentState.generation) {
      return { ok: false, problem: 'changed', code: 'SWY_STATE_CONFLICT', message: `state file ${file} is at generation ${stored.generation} but this instance wrote ${currentState.generation}: something else wrote it (a second instance, a person); answers follow the state in memory` };
    }
    if (copyError !== null) return { ok: false, problem: 'copy', code: 'SWY_STATE_WRITE', message: `the second copy ${copy} cannot be written: ${copyError}` };
    return { ok: true };
  }

  async function restore(currentState: RoutingState): Promise<void> {
    await writeAtomically(file, currentState);
    await writeCopy(currentState);
  }

  return { description: `file ${file}`, load, save, check, restore, notices: () => pending.splice(0) };
}

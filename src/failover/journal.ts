// Reading a transition's journal: which steps finished, how many attempts each had, and
// whether the journal fits the configured steps at all. Pure.
import type { Transition } from '../routing/index.ts';

export interface ResumePoint {
  finished: Set<number>;           // step indexes whose last entry is done or skipped
  attempts: Map<number, number>;   // step index -> attempts started so far
  problem: string | undefined;     // set when the journal cannot belong to these steps
}

export function resumePoint(t: Transition, stepNames: readonly string[]): ResumePoint {
  const finished = new Set<number>();
  const attempts = new Map<number, number>();
  for (const e of t.journal) {
    if (e.index >= stepNames.length || stepNames[e.index] !== e.step) {
      return { finished, attempts, problem: `journal entry for step ${JSON.stringify(e.step)} at position ${e.index} does not match the configured steps (${stepNames.join(', ')})` };
    }
    if (e.phase === 'precheck') continue;
    if (e.phase === 'started') attempts.set(e.index, (attempts.get(e.index) ?? 0) + 1);
    if (e.phase === 'done' || e.phase === 'skipped') finished.add(e.index);
    else finished.delete(e.index);
  }
  for (const i of finished) {
    for (let j = 0; j < i; j++) {
      if (!finished.has(j)) return { finished, attempts, problem: `step ${stepNames[i]} finished but the earlier step ${stepNames[j]} did not` };
    }
  }
  return { finished, attempts, problem: undefined };
}

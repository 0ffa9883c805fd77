// Structural check of a stored state. A state that does not pass is corrupt: switchyard
// refuses to start rather than silently reset traffic to the primary.
import type { RoutingState } from './types.ts';
import { FAILOVER_STATES } from './transitions.ts';

const STATES = new Set<string>(FAILOVER_STATES);
const KINDS = new Set(['failover', 'switchover', 'failback']);
const PHASES = new Set(['precheck', 'started', 'running', 'done', 'failed', 'skipped']);

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isStr = (v: unknown): v is string => typeof v === 'string';
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Returns a reason the value is not a RoutingState, or undefined when it is one. */
export function stateProblem(v: unknown): string | undefined {
  if (!isObj(v)) return 'not a JSON object';
  if (v.version !== 1) return `unsupported version ${JSON.stringify(v.version)}`;
  if (!isCount(v.generation) || v.generation < 1) return 'generation is not a positive integer';
  if (!isCount(v.epoch)) return 'epoch is not a non-negative integer';
  if (!isStr(v.active) || v.active === '') return 'active is not a cluster name';
  if (!isStr(v.state) || !STATES.has(v.state)) return `state ${JSON.stringify(v.state)} is unknown`;
  if (!isStr(v.reason)) return 'reason is not a string';
  if (!isStr(v.updatedAt)) return 'updatedAt is not a string';
  if (v.transition !== null) {
    const t = v.transition;
    if (!isObj(t)) return 'transition is not an object';
    if (!isCount(t.epoch) || !isStr(t.kind) || !KINDS.has(t.kind) || !isStr(t.from) || !isStr(t.to) || !isStr(t.reason)
      || typeof t.forced !== 'boolean' || !isStr(t.startedAt) || !Array.isArray(t.journal) || (t.term !== undefined && !isCount(t.term))) return 'transition is malformed';
    for (const e of t.journal as unknown[]) {
      if (!isObj(e) || !isStr(e.step) || !isCount(e.index) || !isStr(e.phase) || !PHASES.has(e.phase) || !isCount(e.attempt) || !isStr(e.at)
        || (e.facts !== undefined && (!isObj(e.facts) || Object.values(e.facts).some((f) => f !== null && !['string', 'number', 'boolean'].includes(typeof f))))) {
        return 'transition.journal has a malformed entry';
      }
      if (e.term !== undefined && !isCount(e.term)) return 'transition.journal has a malformed term';
      if (e.process !== undefined && (!isObj(e.process) || !isCount(e.process.pid) || !isStr(e.process.host))) return 'transition.journal has a malformed process';
    }
  }
  if (v.holdCode !== undefined && !isStr(v.holdCode)) return 'holdCode is not a string';
  if (v.unfenced !== undefined) {
    const u = v.unfenced;
    if (!isObj(u) || !isStr(u.cluster) || !isCount(u.epoch) || !isStr(u.since) || !isStr(u.detail)) return 'unfenced is malformed';
  }
  return undefined;
}

export const isRoutingState = (v: unknown): v is RoutingState => stateProblem(v) === undefined;

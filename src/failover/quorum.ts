// The quorum of observers, pure: may the leader fail over from `active` to `target`? Only when
// at least `quorum` FRESH observations (one per instance) agree that the active cluster is down
// and the target is healthy. Freshness is judged on the leader's clock: `seenAt` is when the
// leader saw that instance's observation change, never the observer's own timestamp (a paused
// or clock-skewed observer cannot make an old verdict look new).

export type Verdicts = Readonly<Record<string, boolean | null>>;

export interface SeenObservation {
  instance: string;
  verdicts: Verdicts;
  /** Leader's monotonic ms when it last saw this observation change. */
  seenAt: number;
}

export interface QuorumInput {
  observations: readonly SeenObservation[];
  now: number;
  /** An observation not seen changing for longer than this (ms) is stale and does not count. */
  maxAge: number;
  quorum: number;
  active: string;
  target: string;
}

export interface QuorumDecision {
  allowed: boolean;
  /** Fresh instances that see the active down and the target healthy. */
  agreeing: string[];
  /** Fresh instances that see the active up (or unknown), or the target not healthy. */
  disagreeing: string[];
  stale: string[];
  reason: string;
}

/** The default quorum: a majority of the configured instances. */
export const majority = (instances: number): number => Math.floor(instances / 2) + 1;

export function quorumDecision(input: QuorumInput): QuorumDecision {
  const agreeing: string[] = [];
  const disagreeing: string[] = [];
  const stale: string[] = [];
  const counted = new Set<string>();
  for (const o of input.observations) {
    if (counted.has(o.instance)) continue;   // one voice per instance
    counted.add(o.instance);
    const age = input.now - o.seenAt;
    if (!(age >= 0 && age <= input.maxAge)) { stale.push(o.instance); continue; }
    if (o.verdicts[input.active] === false && o.verdicts[input.target] === true) agreeing.push(o.instance);
    else disagreeing.push(o.instance);
  }
  const allowed = agreeing.length >= input.quorum;
  const parts = [`${agreeing.length}/${input.quorum} fresh observers see ${input.active} down and ${input.target} healthy`];
  if (agreeing.length > 0) parts.push(`agree: ${agreeing.join(', ')}`);
  if (disagreeing.length > 0) parts.push(`disagree: ${disagreeing.join(', ')}`);
  if (stale.length > 0) parts.push(`stale: ${stale.join(', ')}`);
  return { allowed, agreeing, disagreeing, stale, reason: parts.join('; ') };
}

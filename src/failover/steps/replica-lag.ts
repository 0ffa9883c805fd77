// How far a standby is behind, and whether that blocks its promotion: a pure function of what
// the standby (and, when reachable, the source primary) reported. No I/O.

/** What a standby in recovery reports, plus the source primary's current WAL position if it answered. */
export interface LagObservation {
  receiveLsn: string | null;        // pg_last_wal_receive_lsn(): null when streaming never started
  replayLsn: string | null;         // pg_last_wal_replay_lsn()
  sourceLsn: string | null;         // source primary's pg_current_wal_lsn(), null when unreachable or not a primary
  paused: boolean;                  // pg_is_wal_replay_paused()
  replayAgeSeconds: number | null;  // now() - pg_last_xact_replay_timestamp(); null when nothing was replayed yet
}

export interface LagBounds { maxLagBytes: number | undefined; maxLagSeconds: number | undefined }

export interface LagAssessment {
  /** WAL bytes not yet replayed; null when it cannot be known. */
  lagBytes: number | null;
  /** Seconds since the last replayed commit while WAL is pending, 0 when caught up, null when unknown. */
  lagSeconds: number | null;
  /** `source`: source primary's WAL position minus replay; `standby`: received minus replayed. */
  basis: 'source' | 'standby' | 'unknown';
  paused: boolean;
  /** Why promotion is blocked; empty when it is not. */
  problems: string[];
}

/** An LSN (`16/B374D848`) as a byte position. Throws on anything else. */
export function parseLsn(lsn: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn);
  if (!m) throw new Error(`not a WAL position: ${JSON.stringify(lsn)}`);
  return (BigInt(`0x${m[1]}`) << 32n) + BigInt(`0x${m[2]}`);
}

function diff(ahead: string, behind: string): number {
  const d = parseLsn(ahead) - parseLsn(behind);
  return d > 0n ? Number(d) : 0;
}

export function assessLag(o: LagObservation, bounds: LagBounds): LagAssessment {
  let lagBytes: number | null = null;
  let basis: LagAssessment['basis'] = 'unknown';
  if (o.replayLsn !== null && o.sourceLsn !== null) {
    lagBytes = diff(o.sourceLsn, o.replayLsn);
    basis = 'source';
  } else if (o.replayLsn !== null && o.receiveLsn !== null) {
    lagBytes = diff(o.receiveLsn, o.replayLsn);
    basis = 'standby';
  }
  // The replay timestamp is that of the last replayed commit: it measures delay only while
  // there is WAL left to replay. When caught up, the standby is 0 s behind however old it is.
  const lagSeconds = lagBytes === 0 ? 0 : lagBytes === null ? null : o.replayAgeSeconds === null ? null : Math.max(0, o.replayAgeSeconds);

  const problems: string[] = [];
  if (o.paused && lagBytes !== 0) {
    problems.push(`replay is paused with ${lagBytes === null ? 'an unknown amount of' : `${lagBytes} bytes of`} WAL not replayed`);
  }
  if (bounds.maxLagBytes !== undefined) {
    if (lagBytes === null) problems.push('replay lag in bytes is unknown (the standby is not streaming and the source primary did not answer)');
    else if (lagBytes > bounds.maxLagBytes) problems.push(`replay lag ${lagBytes} bytes is over maxLagBytes ${bounds.maxLagBytes}`);
  }
  if (bounds.maxLagSeconds !== undefined) {
    if (lagSeconds === null) problems.push('replay delay in seconds is unknown (WAL is pending and no commit was replayed yet)');
    else if (lagSeconds > bounds.maxLagSeconds) problems.push(`replay delay ${lagSeconds.toFixed(1)} s is over maxLagSeconds ${bounds.maxLagSeconds}`);
  }
  return { lagBytes, lagSeconds, basis, paused: o.paused, problems };
}

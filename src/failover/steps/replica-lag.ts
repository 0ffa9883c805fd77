// Whether a standby may be promoted: a pure function of what the standby reports and of the
// source primary's WAL position, either seen live (the source answered) or as last recorded
// by the database observer while it was reachable (Patroni's maximum_lag_on_failover). No I/O.
//
// Lag is the source's position minus the standby's position, where the standby's position is
// the furthest WAL it has (max of received and replayed): everything it has is replayed at
// promotion, everything beyond it is lost. A record older than maxRecordAge counts as no
// record: the source may have written anything since. A standby that was `sync` in the last
// fresh record has every commit the source acknowledged (RPO 0) whatever the byte figure.

/** One row of the source's pg_stat_replication. */
export interface StandbyRow {
  applicationName: string;
  clientAddr: string | null;
  state: string;                   // streaming, catchup, startup, backup, stopping
  syncState: string;               // async, potential, sync, quorum
  flushLsn: string | null;
  replayLsn: string | null;
}

/** The source primary's WAL position with what it said about its standbys. */
export interface SourcePosition {
  lsn: string;                     // pg_current_wal_lsn()
  systemIdentifier: string;        // pg_control_system().system_identifier
  timeline: number;
  standbys: StandbyRow[];
}

/** What the target reports while in recovery. */
export interface TargetObservation {
  receiveLsn: string | null;        // pg_last_wal_receive_lsn(): null when streaming never started
  replayLsn: string | null;         // pg_last_wal_replay_lsn()
  paused: boolean;                  // pg_is_wal_replay_paused()
  replayAgeSeconds: number | null;  // now() - pg_last_xact_replay_timestamp(); null when nothing was replayed yet
  systemIdentifier: string;
  standbyName: string | null;       // the application_name it streams under, when its WAL receiver runs
}

export interface LagBounds {
  maxLagBytes: number | undefined;  // undefined: unbounded
  maxLagSeconds: number | undefined;
  maxRecordAgeMs: number;
}

export interface LagInput {
  target: TargetObservation;
  /** The source answered just now. */
  live: SourcePosition | null;
  /** The observer's last record of the source, with its age; used when live is null. */
  record: (SourcePosition & { ageMs: number }) | null;
}

export type LagCase = 'live' | 'record' | 'sync' | 'unknown';
export type LagProblemCode = 'SWY_FAILOVER_NOT_REPLICATING' | 'SWY_FAILOVER_POSITION_UNKNOWN' | 'SWY_FAILOVER_REPLICA_LAG';

export interface LagAssessment {
  /** live: the source answered; record: its last fresh record; sync: the target was sync in that record (RPO 0); unknown: neither. */
  case: LagCase;
  /** WAL bytes the target does not have; null when it cannot be known. */
  lagBytes: number | null;
  /** Seconds since the last replayed commit while WAL is pending, 0 when caught up, null when unknown. */
  lagSeconds: number | null;
  sourceLsn: string | null;
  targetLsn: string | null;
  recordAgeMs: number | null;
  paused: boolean;
  /** Why promotion is blocked, most fundamental first; empty when it is not. */
  problems: Array<{ code: LagProblemCode; message: string }>;
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

function furthest(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return parseLsn(a) >= parseLsn(b) ? a : b;
}

export function assessLag(input: LagInput, bounds: LagBounds): LagAssessment {
  const { target, live, record } = input;
  const problems: LagAssessment['problems'] = [];
  const targetLsn = furthest(target.receiveLsn, target.replayLsn);
  const fresh = record !== null && record.ageMs <= bounds.maxRecordAgeMs ? record : null;
  const source = live ?? fresh;
  const row = source && target.standbyName !== null ? source.standbys.find((s) => s.applicationName === target.standbyName) : undefined;

  let lagCase: LagCase = live ? 'live' : fresh ? 'record' : 'unknown';
  if (source && source.systemIdentifier !== target.systemIdentifier) {
    problems.push({ code: 'SWY_FAILOVER_NOT_REPLICATING', message: `the target's system identifier ${target.systemIdentifier} is not the source's ${source.systemIdentifier}: it is not a copy of this database` });
  }
  if (live && row?.state !== 'streaming') {
    problems.push({ code: 'SWY_FAILOVER_NOT_REPLICATING', message: row ? `the source lists the target (${row.applicationName}) as ${row.state}, not streaming` : `the source's pg_stat_replication has no standby named ${JSON.stringify(target.standbyName ?? '(unknown)')}: the target is not streaming from the current primary` });
  }
  if (!live && fresh && row?.syncState === 'sync' && row.state === 'streaming') lagCase = 'sync';

  let lagBytes: number | null = null;
  if (source && targetLsn !== null) lagBytes = diff(source.lsn, targetLsn);
  if (lagCase === 'sync') lagBytes = 0;

  if (bounds.maxLagBytes !== undefined) {
    if (!source) {
      problems.push({ code: 'SWY_FAILOVER_POSITION_UNKNOWN', message: record ? `the source did not answer and its last recorded WAL position is ${(record.ageMs / 1000).toFixed(1)} s old (maxRecordAge ${(bounds.maxRecordAgeMs / 1000).toFixed(1)} s): the lag is unknown` : 'the source did not answer and no WAL position of it was ever recorded: the lag is unknown' });
    } else if (lagBytes === null) {
      problems.push({ code: 'SWY_FAILOVER_POSITION_UNKNOWN', message: 'the target reports no received or replayed WAL position: the lag is unknown' });
    } else if (lagBytes > bounds.maxLagBytes) {
      problems.push({ code: 'SWY_FAILOVER_REPLICA_LAG', message: `the target is ${lagBytes} bytes behind the source's ${lagCase === 'live' ? 'current' : 'last recorded'} WAL position ${source.lsn} (target at ${targetLsn}), over maxLagBytes ${bounds.maxLagBytes}` });
    }
  }

  // Replay delay: the timestamp is that of the last replayed commit, so it measures delay only
  // while there is WAL left to replay; a caught-up standby is 0 s behind however old it is.
  const pendingReplay = target.receiveLsn !== null && target.replayLsn !== null ? diff(target.receiveLsn, target.replayLsn) : null;
  const behind = lagCase === 'sync' ? pendingReplay : lagBytes === null ? null : Math.max(lagBytes, pendingReplay ?? 0);
  const lagSeconds = behind === 0 ? 0 : behind === null || target.replayAgeSeconds === null ? null : Math.max(0, target.replayAgeSeconds);
  if (target.paused && pendingReplay !== 0) {
    problems.push({ code: 'SWY_FAILOVER_REPLICA_LAG', message: `replay is paused with ${pendingReplay === null ? 'an unknown amount of' : `${pendingReplay} bytes of`} WAL not replayed` });
  }
  if (bounds.maxLagSeconds !== undefined) {
    if (lagSeconds === null) problems.push({ code: 'SWY_FAILOVER_REPLICA_LAG', message: 'replay delay in seconds is unknown (WAL is pending and no commit was replayed yet)' });
    else if (lagSeconds > bounds.maxLagSeconds) problems.push({ code: 'SWY_FAILOVER_REPLICA_LAG', message: `replay delay ${lagSeconds.toFixed(1)} s is over maxLagSeconds ${bounds.maxLagSeconds}` });
  }
  const order: LagProblemCode[] = ['SWY_FAILOVER_NOT_REPLICATING', 'SWY_FAILOVER_POSITION_UNKNOWN', 'SWY_FAILOVER_REPLICA_LAG'];
  problems.sort((a, b) => order.indexOf(a.code) - order.indexOf(b.code));
  return {
    case: lagCase, lagBytes, lagSeconds, sourceLsn: source?.lsn ?? null, targetLsn,
    recordAgeMs: live ? 0 : record?.ageMs ?? null, paused: target.paused, problems,
  };
}

// What the postgres steps and the database observer read from a server: a primary's WAL
// position, system identifier, timeline and pg_stat_replication; a standby's received and
// replayed positions, the name it streams under, and its timeline. One statement each.
//
// The user needs pg_monitor (or superuser) to see other sessions' pg_stat_replication and
// pg_stat_wal_receiver columns.
import type { PgQuery } from './postgres-session.ts';
import type { SourcePosition, StandbyRow, TargetObservation } from './replica-lag.ts';

const PRIMARY_SQL = `SELECT pg_is_in_recovery() AS in_recovery,
  (SELECT system_identifier::text FROM pg_control_system()) AS sysid,
  CASE WHEN NOT pg_is_in_recovery() THEN pg_current_wal_lsn()::text END AS lsn,
  CASE WHEN NOT pg_is_in_recovery() THEN pg_walfile_name(pg_current_wal_lsn()) END AS walfile,
  (SELECT timeline_id FROM pg_control_checkpoint()) AS checkpoint_tli,
  (SELECT coalesce(json_agg(json_build_object('applicationName', application_name, 'clientAddr', client_addr::text, 'state', state,
     'syncState', sync_state, 'flushLsn', flush_lsn::text, 'replayLsn', replay_lsn::text)), '[]'::json) FROM pg_stat_replication) AS standbys`;

const TARGET_SQL = `SELECT pg_is_in_recovery() AS in_recovery,
  (SELECT system_identifier::text FROM pg_control_system()) AS sysid,
  CASE WHEN NOT pg_is_in_recovery() THEN pg_walfile_name(pg_current_wal_lsn()) END AS walfile,
  (SELECT timeline_id FROM pg_control_checkpoint()) AS checkpoint_tli,
  CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()::text END AS receive_lsn,
  CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text END AS replay_lsn,
  CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END AS paused,
  extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS replay_age_seconds,
  (SELECT conninfo FROM pg_stat_wal_receiver LIMIT 1) AS receiver_conninfo,
  (SELECT setting FROM pg_settings WHERE name = 'primary_conninfo') AS primary_conninfo,
  current_setting('cluster_name') AS cluster_name,
  has_function_privilege('pg_promote(boolean, integer)', 'EXECUTE') AS may_promote`;

export interface ServerState {
  inRecovery: boolean;
  systemIdentifier: string;
  /** A primary's current timeline (from its WAL file name); a standby's last restartpoint timeline. */
  timeline: number;
}

export interface TargetState extends ServerState { mayPromote: boolean; observation: TargetObservation }

function timelineOf(row: Record<string, any>): number {
  return typeof row.walfile === 'string' ? Number.parseInt(row.walfile.slice(0, 8), 16) : Number(row.checkpoint_tli);
}

/** The value of `key` in a libpq connection string (`key=value` or `key='quoted value'`), if set. */
export function conninfoValue(conninfo: string | null, key: string): string | null {
  if (!conninfo) return null;
  const m = new RegExp(`(?:^|\\s)${key}\\s*=\\s*('(?:[^'\\\\]|\\\\.)*'|\\S+)`).exec(conninfo);
  if (!m) return null;
  const v = m[1];
  return v.startsWith("'") ? v.slice(1, -1).replace(/\\(.)/g, '$1') : v;
}

/**
 * The name a standby streams under, as its primary's pg_stat_replication.application_name
 * shows it: application_name of primary_conninfo (readable with pg_read_all_settings), else of
 * the running WAL receiver's connection, else what the WAL receiver falls back to (cluster_name,
 * else `walreceiver`). Known whether or not the standby is connected right now.
 */
export function standbyNameOf(row: { primary_conninfo?: string | null; receiver_conninfo?: string | null; cluster_name?: string | null }): string {
  return conninfoValue(row.primary_conninfo ?? null, 'application_name')
    ?? conninfoValue(row.receiver_conninfo ?? null, 'application_name')
    ?? conninfoValue(row.receiver_conninfo ?? null, 'fallback_application_name')
    ?? (row.cluster_name || 'walreceiver');
}

/** A primary's position, or null when the server is in recovery (not a primary). */
export async function readSourcePosition(query: PgQuery): Promise<SourcePosition | null> {
  const [row] = await query(PRIMARY_SQL);
  if (row.in_recovery) return null;
  const standbys = (row.standbys as StandbyRow[]).map((s) => ({ ...s, applicationName: s.applicationName ?? '', state: s.state ?? 'unknown', syncState: s.syncState ?? 'unknown' }));
  return { lsn: row.lsn, systemIdentifier: row.sysid, timeline: timelineOf(row), standbys };
}

export async function readTarget(query: PgQuery): Promise<TargetState> {
  const [row] = await query(TARGET_SQL);
  return {
    inRecovery: row.in_recovery === true,
    systemIdentifier: row.sysid,
    timeline: timelineOf(row),
    mayPromote: row.may_promote === true,
    observation: {
      receiveLsn: row.receive_lsn, replayLsn: row.replay_lsn, paused: row.paused === true, replayAgeSeconds: row.replay_age_seconds,
      systemIdentifier: row.sysid, standbyName: row.in_recovery ? standbyNameOf(row) : null,
    },
  };
}

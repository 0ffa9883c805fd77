// The nologin fence, in SQL: every login role that is not a superuser, not a replication role
// and not switchyard's own loses LOGIN, and carries the role setting `switchyard.fenced = <epoch>`
// as the record of what was taken away (ALTER ROLE ... RESET undoes it; the setting has no
// effect on anything). Catalog changes are WAL-logged, so a standby still streaming from the
// fenced primary replays them: postgres-promote lifts the fence on the database it promotes
// (only roles carrying the record), so the new primary takes logins at once.
import type { PgQuery } from './postgres-session.ts';

export const FENCE_SETTING = 'switchyard.fenced';

const MARKED = `SELECT ro.rolname FROM pg_roles ro
  JOIN pg_db_role_setting s ON s.setrole = ro.oid AND s.setdatabase = 0
  WHERE EXISTS (SELECT 1 FROM unnest(s.setconfig) c WHERE c LIKE '${FENCE_SETTING}=%')
  ORDER BY 1`;

const TO_FENCE = `SELECT rolname FROM pg_roles
  WHERE rolcanlogin AND NOT rolsuper AND NOT rolreplication AND rolname <> current_user ORDER BY 1`;

/** Roles that carry switchyard's fence record. */
export async function fencedRoles(query: PgQuery): Promise<string[]> {
  return (await query(MARKED)).map((r) => r.rolname as string);
}

/** Takes LOGIN from every application role and records it; returns every role fenced now or before. */
export async function fenceRoles(query: PgQuery, epoch: number): Promise<{ fenced: string[]; newly: string[] }> {
  const newly = (await query(TO_FENCE)).map((r) => r.rolname as string);
  // An old primary whose synchronous standby is gone (promoted) would wait forever for it to
  // confirm the commit: this session's commits are local only.
  await query('SET synchronous_commit = local');
  if (newly.length > 0) {
    await query(`DO $fence$ DECLARE r record; BEGIN
      FOR r IN ${TO_FENCE} LOOP
        EXECUTE format('ALTER ROLE %I NOLOGIN', r.rolname);
        EXECUTE format('ALTER ROLE %I SET ${FENCE_SETTING} = %L', r.rolname, '${Math.trunc(epoch)}');
      END LOOP; END $fence$`);
  }
  return { fenced: await fencedRoles(query), newly };
}

/** Gives LOGIN back to every role carrying the fence record and removes the record; returns them. */
export async function liftFence(query: PgQuery): Promise<string[]> {
  const roles = await fencedRoles(query);
  if (roles.length > 0) {
    await query('SET synchronous_commit = local');
    await query(`DO $lift$ DECLARE r record; BEGIN
      FOR r IN ${MARKED} LOOP
        EXECUTE format('ALTER ROLE %I LOGIN', r.rolname);
        EXECUTE format('ALTER ROLE %I RESET ${FENCE_SETTING}', r.rolname);
      END LOOP; END $lift$`);
  }
  return roles;
}

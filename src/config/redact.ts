// Redaction of secrets from anything switchyard shows or logs: derived probe names, config
// validation messages, hook output. Two layers: patterns that carry credentials whatever their
// value (URL userinfo, URL query strings, password=/token=/secret= pairs), and the known secret
// values of this configuration (admin token, database passwords, webhook secrets, hook env
// values whose names say they are secret).
import type { Config } from './types.ts';

export const REDACTED = '***';

const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"']*@/gi;
const URL_QUERY = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s?#"']*)\?[^\s#"']*/gi;
/** user:password@ without a scheme (a mistyped URL such as postgres:/u:pw@h). */
const USER_PASSWORD = /([^\s:/@"'=]+):[^\s:/@"']+@/g;
const KEY_VALUE = /\b(password|passwd|pwd|pass|token|secret|api[_-]?key|access[_-]?key|auth|sig|signature|credentials?)=([^&\s"';,]+)/gi;
/** Names of variables and headers whose values are treated as secrets. */
const SECRET_NAME = /pass|secret|token|key|auth|credential|cookie|signature/i;
/** Known values shorter than this are not redacted: they would blank ordinary words and numbers. */
const MIN_SECRET_LENGTH = 6;

/** `text` with credential-carrying patterns and every one of `secrets` replaced by ***. */
export function redactText(text: string, secrets: readonly string[] = []): string {
  let out = text
    .replace(URL_USERINFO, `$1${REDACTED}@`)
    .replace(URL_QUERY, `$1?${REDACTED}`)
    .replace(USER_PASSWORD, `$1:${REDACTED}@`)
    .replace(KEY_VALUE, `$1=${REDACTED}`);
  for (const s of secrets) if (s.length >= MIN_SECRET_LENGTH && out.includes(s)) out = out.split(s).join(REDACTED);
  return out;
}

/** Values of environment variables whose names say they are secret (SWITCHYARD_ADMIN_TOKEN, PGPASSWORD, ...). */
export function envSecrets(env: Readonly<Record<string, string | undefined>>): string[] {
  return Object.entries(env).filter(([k, v]) => v !== undefined && v.length >= MIN_SECRET_LENGTH && SECRET_NAME.test(k)).map(([, v]) => v!);
}

/** The secret values of a configuration (and the admin token), longest first. */
export function configSecrets(config: Config): string[] {
  const found = new Set<string>();
  const add = (v: string | undefined) => { if (v !== undefined && v.length >= MIN_SECRET_LENGTH) found.add(v); };
  add(config.admin.token);
  if (config.state.kind === 'etcd') add(config.state.password);
  for (const c of config.clusters) {
    if (c.database !== undefined) {
      try {
        const u = new URL(c.database.url);
        add(decodeURIComponent(u.password));
        add(u.password);
        for (const [k, v] of u.searchParams) if (SECRET_NAME.test(k)) add(v);
      } catch { /* validation accepted it; the patterns still apply */ }
    }
    for (const p of c.probes) if (p.kind === 'http') for (const [k, v] of Object.entries(p.headers)) if (SECRET_NAME.test(k)) add(v);
  }
  for (const s of [...config.failover.steps, ...config.notify]) {
    if (s.type === 'exec') for (const [k, v] of Object.entries(s.env)) if (SECRET_NAME.test(k)) add(v);
    if (s.type === 'webhook') {
      add(s.secret);
      add(s.routingKey);
      for (const [k, v] of Object.entries(s.headers)) if (SECRET_NAME.test(k)) add(v);
    }
  }
  return [...found].sort((a, b) => b.length - a.length);
}

// Loading: read the file, parse YAML (duplicate keys are errors), substitute ${VAR} in string
// values (after parsing, so a variable can never inject YAML), validate. The only module that
// reads the environment.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { SwitchyardError } from '../errors.ts';
import { requirePackage } from '../packages.ts';
import type { Config } from './types.ts';
import { join, type Issues } from './fields.ts';
import { envSecrets, redactText } from './redact.ts';

const { parseDocument } = requirePackage('yaml') as typeof import('yaml');
import { validateConfig } from './validate.ts';

export type Env = Readonly<Record<string, string | undefined>>;

/** Replaces ${VAR} in every string value; `$${` is a literal `${`. Unset variables are issues. */
export function substituteEnv(value: unknown, env: Env, path: string, issues: Issues): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)?\}?/g, (match, name: string | undefined) => {
      if (match === '$${') return '${';
      if (name === undefined || !match.endsWith('}')) {
        issues.push({ path: path || '(root)', message: `malformed variable reference in ${JSON.stringify(value)}; use \${NAME}` });
        return match;
      }
      const v = env[name];
      if (v === undefined) {
        issues.push({ path: path || '(root)', message: `environment variable ${name} is not set` });
        return match;
      }
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, join(path, i), issues));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substituteEnv(v, env, join(path, k), issues);
    return out;
  }
  return value;
}

/** Parses configuration text. Throws SwitchyardError SWY_CONFIG_YAML or SWY_CONFIG_INVALID (details.issues). */
export function parseConfig(text: string, env: Env, baseDir: string): Config {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((e) => ({ path: `line ${e.linePos?.[0].line ?? '?'}`, message: redactText(e.message.split('\n')[0], envSecrets(env)) }));
    throw new SwitchyardError('SWY_CONFIG_YAML', `configuration is not valid YAML: ${issues[0].message}`, { issues });
  }
  const issues: Issues = [];
  const raw = substituteEnv(doc.toJS({ maxAliasCount: 100 }), env, '', issues);
  const { config, issues: more } = validateConfig(raw, { baseDir, adminToken: env.SWITCHYARD_ADMIN_TOKEN });
  issues.push(...more);
  if (issues.length > 0 || !config) {
    // Messages quote the values they reject: never a password, token or query string.
    const secrets = envSecrets(env);
    for (const i of issues) i.message = redactText(i.message, secrets);
    throw new SwitchyardError('SWY_CONFIG_INVALID', `configuration has ${issues.length} error${issues.length === 1 ? '' : 's'}`, { issues });
  }
  return config;
}

export async function loadConfig(file: string, env: Env = process.env): Promise<Config> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new SwitchyardError('SWY_CONFIG_READ', `cannot read ${file}: ${(err as Error).message}`, { file }, { cause: err });
  }
  return parseConfig(text, env, dirname(resolve(file)));
}

/** Lines for a person: `path: message`, one per issue. */
export function formatConfigError(err: SwitchyardError): string[] {
  const issues = (err.details?.issues as Issues | undefined) ?? [];
  return issues.length > 0 ? issues.map((i) => `${err.code} ${i.path}: ${i.message}`) : [`${err.code}: ${err.message}`];
}

/** Settings the CLI takes from the environment (the admin token for mutating calls). */
export function cliSettings(env: Env = process.env): { adminToken: string | undefined; adminUrl: string | undefined } {
  return { adminToken: env.SWITCHYARD_ADMIN_TOKEN || undefined, adminUrl: env.SWITCHYARD_ADMIN_URL || undefined };
}

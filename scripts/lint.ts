// Project lint: the rules of DESIGN.md and CONVENTIONS.md that a type checker cannot see.
// - import direction: health never imports failover; dns and proxy import only routing types
//   (plus config types, log, errors, the worker pool) from the rest of src; nothing imports src/main.ts or src/cli
//   but the cli itself;
// - configuration slices (src/<area>/config.ts, config-*.ts) are what src/config composes: src/config
//   imports other areas only through them, and they import nothing but the schema kit's side of
//   src/config (schema, fields, redact, types), node built-ins and other slice files, so loading the
//   configuration never loads an area's runtime and no import cycle can form;
// - only src/config reads process.env;
// - only src/kubernetes.ts imports values from @kubernetes/client-node (main.ts loads it lazily);
// - src loads node:http, node:fs, node:util and node:crypto through src/node-builtins.ts (require,
//   not an ES import: an ES import runs the modules' lazy getters, which load Node's bundled undici
//   and more; type imports are fine);
// - src loads undici and prom-client through src/undici-parts.ts and src/prom-client-parts.ts
//   (their indexes load every part they have), and the other CommonJS packages with require()
//   (src/packages.ts: an ES import of CommonJS runs Node's CommonJS lexer); src/kubernetes.ts, loaded
//   lazily, imports the ES module @kubernetes/client-node and undici's fetch;
// - kebab-case file names; no to-do marker in a comment without an issue number (#N).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve, basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const files: string[] = [];
const walk = (dir: string) => {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.ts')) files.push(p);
  }
};
for (const d of ['src', 'test', 'bench', 'scripts']) walk(join(root, d));

const problems: string[] = [];
const area = (file: string): string | undefined => {
  const rel = relative(join(root, 'src'), file);
  return rel.startsWith('..') ? undefined : rel.includes('/') ? rel.split('/')[0] : rel;
};

/** What each src area may import from other src areas. */
const ALLOWED: Record<string, (target: string, typeOnly: boolean) => boolean> = {
  health: (t) => t !== 'failover' && t !== 'dns' && t !== 'proxy' && t !== 'admin' && t !== 'cli' && t !== 'main.ts',
  dns: (t, typeOnly) => ['config', 'log.ts', 'errors.ts', 'worker-pool.ts', 'prom-client-parts.ts', 'packages.ts'].includes(t) || (t === 'routing' && typeOnly),
  proxy: (t, typeOnly) => ['config', 'log.ts', 'errors.ts', 'undici-parts.ts', 'prom-client-parts.ts', 'worker-pool.ts', 'node-builtins.ts'].includes(t) || (t === 'routing' && typeOnly),
  // The worker threads of dns and proxy: the routing snapshot type only, like them.
  'worker-pool.ts': (t, typeOnly) => ['log.ts', 'errors.ts'].includes(t) || (t === 'routing' && typeOnly),
  routing: (t) => ['errors.ts', 'config', 'log.ts', 'kubernetes.ts', 'node-builtins.ts', 'undici-parts.ts'].includes(t),
  config: (t) => ['errors.ts', 'node-builtins.ts', 'packages.ts'].includes(t),
  failover: (t) => t !== 'dns' && t !== 'proxy' && t !== 'admin' && t !== 'cli' && t !== 'main.ts',
  admin: (t) => t !== 'cli' && t !== 'main.ts' && t !== 'dns' && t !== 'proxy',
  // Kubernetes-aware parts: the clients come from the composition root; kubernetes.ts (which loads
  // client-node) is imported for its types only.
  addresses: (t, typeOnly) => ['config', 'log.ts', 'errors.ts', 'prom-client-parts.ts'].includes(t) || (t === 'kubernetes.ts' && typeOnly),
  parity: (t, typeOnly) => ['config', 'log.ts', 'errors.ts', 'node-builtins.ts', 'prom-client-parts.ts'].includes(t) || (t === 'kubernetes.ts' && typeOnly),
};

/** `import type ...`, or `import { type A, type B }`: erased by type stripping, so it loads nothing. */
const typeOnlyImport = (typeKeyword: string | undefined, clause: string): boolean => {
  if (typeKeyword !== undefined) return true;
  const names = /^\{([^}]*)\}$/.exec(clause.trim());
  return names !== null && names[1].split(',').map((s) => s.trim()).filter(Boolean).every((s) => s.startsWith('type '));
};

/** A configuration slice: src/<area>/config.ts or src/<area>/config-*.ts. */
const isSlice = (file: string): boolean => {
  const rel = relative(join(root, 'src'), file);
  return /^[a-z-]+\/config(-[a-z-]+)?\.ts$/.test(rel) && !rel.startsWith('config/') && !rel.startsWith('cli/');
};
/** Packages whose index loads every part they have: src takes their values from these files. */
const PARTS: Record<string, string> = { undici: 'src/undici-parts.ts', 'prom-client': 'src/prom-client-parts.ts' };
const SLICE_MAY_IMPORT = ['src/config/schema.ts', 'src/config/fields.ts', 'src/config/redact.ts', 'src/config/types.ts', 'src/errors.ts'];

for (const file of files) {
  const rel = relative(root, file);
  const text = readFileSync(file, 'utf8');
  if (!/^[a-z0-9]+(-[a-z0-9]+)*(\.test)?\.ts$/.test(basename(file))) problems.push(`${rel}: file names are kebab-case`);
  text.split('\n').forEach((line, i) => {
    if (/(\/\/|\/\*|^\s*\*).*\b(TODO|FIXME|XXX)\b/.test(line) && !/#\d+/.test(line)) problems.push(`${rel}:${i + 1}: TODO without an issue number`);
  });
  const from = area(file);
  if (!from) continue;
  const code = text.split('\n').filter((l) => !/^\s*(\/\/|\*|\/\*)/.test(l)).join('\n');
  if (from !== 'config' && from !== 'cli' && /process\.env\b/.test(code)) problems.push(`${rel}: only src/config reads process.env (src/cli may pass it through)`);
  if (rel !== 'src/kubernetes.ts' && /^import\s+(?!type\s)[^'"]*from\s+'@kubernetes\/client-node'/m.test(text)) {
    problems.push(`${rel}: only src/kubernetes.ts imports values from @kubernetes/client-node (it is loaded lazily; import types only)`);
  }
  if (rel !== 'src/node-builtins.ts') {
    for (const m of text.matchAll(/^import\s+(type\s+)?([^'"]*)from\s+'node:(http|fs|util|crypto)'/gm)) {
      if (typeOnlyImport(m[1], m[2])) continue;
      problems.push(`${rel}: import node:${m[3]}'s values from src/node-builtins.ts (an ES import of node:${m[3]} runs its lazy getters; import types only)`);
    }
  }
  for (const m of text.matchAll(/^import\s+(type\s+)?([^'"]*)from\s+'([^.'][^']*)'/gm)) {
    const pkg = m[3];
    if (pkg.startsWith('node:') || typeOnlyImport(m[1], m[2]) || (rel === 'src/kubernetes.ts' && (pkg === 'undici' || pkg === '@kubernetes/client-node'))) continue;
    if (PARTS[pkg] !== undefined) {
      if (rel !== PARTS[pkg]) problems.push(`${rel}: import ${pkg}'s values from ${PARTS[pkg]} (its index loads every part it has; import types only)`);
    } else {
      problems.push(`${rel}: load ${pkg} with requirePackage (src/packages.ts), not an ES import (an ES import of CommonJS runs Node's CommonJS lexer; import types only)`);
    }
  }
  for (const m of text.matchAll(/^import\s+(type\s+)?([^'"]*)from\s+'(\.[^']+)'/gm)) {
    const target = area(resolve(dirname(file), m[3]));
    const targetFile = resolve(dirname(file), m[3]);
    if (isSlice(file) && !(isSlice(targetFile) || SLICE_MAY_IMPORT.includes(relative(root, targetFile)))) {
      problems.push(`${rel}: a configuration slice imports only src/config/{schema,fields,redact,types}.ts and other slices, not ${relative(root, targetFile)}`);
    }
    if (from === 'config' && target && target !== 'config' && target !== 'errors.ts' && target !== 'node-builtins.ts' && target !== 'packages.ts' && !isSlice(targetFile)) {
      problems.push(`${rel}: src/config imports other areas only through their configuration slices (src/<area>/config.ts), not ${relative(root, targetFile)}`);
    }
    if (!target || target === from || (from === 'config' && isSlice(targetFile))) continue;
    const typeOnly = typeOnlyImport(m[1], m[2]);
    const rule = ALLOWED[from];
    if (rule && !rule(target, typeOnly)) problems.push(`${rel}: src/${from} may not import src/${target}${typeOnly ? '' : ' (non-type import)'}`);
    if ((target === 'main.ts' || target === 'cli') && from !== 'cli') problems.push(`${rel}: only src/cli imports ${target}`);
  }
}

if (problems.length > 0) {
  for (const p of problems) console.error(p);
  console.error(`lint: ${problems.length} problem(s)`);
  process.exitCode = 1;
} else {
  console.log(`lint: ${files.length} files ok`);
}

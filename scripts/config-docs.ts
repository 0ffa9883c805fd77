// npm run docs:config — writes what is generated from the configuration schema (src/config
// composes the areas' slices, src/<area>/config.ts): schema/switchyard.schema.json, and the
// reference tables of docs/configuration.md between `<!-- schema-table ... -->` and
// `<!-- /schema-table -->` (the prose around them is written by hand). `--check` writes nothing
// and exits 1 when either file is stale; test/unit/config/schema.test.ts checks the same.
//
// A marker names the root of its table and how to show it:
//   <!-- schema-table root=health -->                          every key below `health`, full paths
//   <!-- schema-table root=failover.steps[].exec relative -->  keys relative to the root (`command`)
//   <!-- schema-table root=... omit=name,timeout -->           leave these (relative) keys out
//   <!-- schema-table root=clusters[].probes[].https hidden --> claims the keys, shows none (said in prose)
// A key that sits below another table's root is left to that table (the root's own row stays in
// the enclosing table).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configJsonSchema } from '../src/config/index.ts';
import { configSchema } from '../src/config/validate.ts';
import { docOf, docRows, isOptional, type DocRow, type Node } from '../src/config/schema.ts';
import { STEP_DEFAULTS } from '../src/failover/config.ts';

export const SCHEMA_FILE = 'schema/switchyard.schema.json';
export const CONFIG_DOC = 'docs/configuration.md';

export const renderSchemaFile = (): string => `${JSON.stringify(configJsonSchema(), null, 2)}\n`;

const MARKER = /<!-- schema-table ([^>]*?) -->\n[\s\S]*?<!-- \/schema-table -->/g;
const STEP_DEFAULTS_MARKER = /<!-- step-defaults -->\n[\s\S]*?<!-- \/step-defaults -->/;

interface Table { root: string; relative: boolean; omit: string[]; hidden: boolean }

function parseMarker(args: string): Table {
  const words = args.trim().split(/\s+/);
  const root = words.find((w) => w.startsWith('root='))?.slice(5);
  if (!root) throw new Error(`${CONFIG_DOC}: a schema-table marker needs root=PATH (got "${args}")`);
  const omit = words.find((w) => w.startsWith('omit='))?.slice(5).split(',') ?? [];
  return { root, relative: words.includes('relative'), omit, hidden: words.includes('hidden') };
}

const shown = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));
const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function defaultText(n: Node<unknown>): string {
  const doc = docOf(n);
  if (doc.default !== undefined) return doc.default;
  if (n.default !== undefined) {
    if (docOf(n).type === 'mapping' && typeof n.default === 'object' && n.default !== null && Object.keys(n.default).length === 0) return 'all defaults';
    return `\`${shown(n.default)}\``;
  }
  return isOptional(n) ? 'none' : 'required';
}

/** Replaces every marked table (and the step defaults table) with what the schema says now. */
export function renderConfigDoc(current: string): string {
  const rows = docRows(configSchema() as Node<unknown>, '');
  const tables = [...current.matchAll(MARKER)].map((m) => parseMarker(m[1]));
  const roots = tables.map((t) => t.root);
  const under = (path: string, root: string) => path.startsWith(`${root}.`) || path.startsWith(`${root}[]`);
  const ownerOf = (path: string) => roots.filter((r) => under(path, r)).sort((a, b) => b.length - a.length)[0];
  const unknownRoots = roots.filter((r) => !rows.some((row) => under(row.path, r)));
  if (unknownRoots.length > 0) throw new Error(`${CONFIG_DOC}: schema-table roots with no keys below them: ${unknownRoots.join(', ')}`);
  const render = (t: Table): string => {
    if (t.hidden) return '';
    const mine = rows.filter((row: DocRow) => under(row.path, t.root) && ownerOf(row.path) === t.root)
      .map((row) => ({ ...row, key: t.relative ? row.path.slice(t.root.length).replace(/^\.|^\[\]\.?/, '') : row.path }))
      .filter((row) => row.key !== '' && !t.omit.includes(row.key));
    const lines = ['| key | type | default | range | meaning |', '|---|---|---|---|---|'];
    for (const row of mine) {
      const doc = docOf(row.node);
      const cells = [`\`${row.key}\``, doc.type ?? '', defaultText(row.node), doc.range ?? '', String(row.node.description ?? '')].map(cell);
      lines.push(`| ${cells.join(' | ')} |`.replace(/ \|  \| /g, ' | | ').replace(/ \|  \| /g, ' | | '));
    }
    return lines.join('\n');
  };
  let out = current.replace(MARKER, (_whole, args: string) => {
    const table = render(parseMarker(args));
    return `<!-- schema-table ${args} -->\n${table}${table === '' ? '' : '\n'}<!-- /schema-table -->`;
  });
  const sec = (n: number) => (n % 60_000 === 0 ? `${n / 60_000}m` : `${n / 1000}s`);
  const defaults = ['| type | `timeout` | `retries` | `backoff` | `onFailure` |', '|---|---|---|---|---|',
    ...Object.entries(STEP_DEFAULTS).map(([type, d]) => `| \`${type}\` | \`${sec(d.timeout)}\` | \`${d.retries}\` | \`${sec(d.backoff)}\` | \`${d.onFailure}\` |`)].join('\n');
  out = out.replace(STEP_DEFAULTS_MARKER, `<!-- step-defaults -->\n${defaults}\n<!-- /step-defaults -->`);
  return out;
}

/** Every documented key path of the schema (for the docs test). */
export const schemaKeyPaths = (): string[] => docRows(configSchema() as Node<unknown>, '').map((r) => r.path);

if (import.meta.main) {
  const root = fileURLToPath(new URL('../', import.meta.url));
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [file, render] of [[SCHEMA_FILE, () => renderSchemaFile()], [CONFIG_DOC, () => renderConfigDoc(readFileSync(join(root, CONFIG_DOC), 'utf8'))]] as const) {
    const path = join(root, file);
    let current = '';
    try { current = readFileSync(path, 'utf8'); } catch { /* a new file */ }
    const next = render();
    if (next === current) continue;
    stale++;
    if (check) console.error(`${file} is stale: run npm run docs:config`);
    else { writeFileSync(path, next); console.log(`wrote ${file}`); }
  }
  if (check && stale > 0) process.exitCode = 1;
}

// The schema kit: each area declares its configuration slice once, with these builders, and gets
// from that one declaration (1) the reader that validates and normalises it with today's messages
// (every error with its full key path, all of them in one pass; the readers of fields.ts), (2) its
// part of the JSON Schema that `switchyard schema` prints and editors use, and (3) the rows of
// docs/configuration.md. A node is a plain JSON Schema object; what only switchyard needs (the
// reader, the docs' wording) sits under symbol keys, which JSON.stringify leaves out.
import * as f from './fields.ts';
import type { Issues } from './fields.ts';
import type { ListenAddress } from './types.ts';

const READ = Symbol('read');
const OPTIONAL = Symbol('optional');
const DOC = Symbol('doc');
/** On a custom node: `true`, or the node whose keys docs/configuration.md lists below it. */
const CUSTOM = Symbol('custom');

/** How docs/configuration.md shows a key when the JSON Schema alone says too little. */
export interface DocText {
  /** The type column: `duration`, `DNS name`, `integer (seconds)`. */
  type?: string;
  /** The default column when it is derived (`a tenth of \`interval\``); literal defaults come from `default`. */
  default?: string;
  /** The range column. */
  range?: string;
}

export interface Meta<In = unknown> {
  /** What the key means: the JSON Schema description, the docs' meaning column, editors' hover text. */
  description: string;
  /** The default, written as in the YAML file; the reader reads it as if it had been given. */
  default?: In;
  doc?: DocText;
}

export type Reader<T> = (v: unknown, path: string, issues: Issues) => T | undefined;

/** A schema node: JSON Schema keywords, and under symbols its reader and docs text. */
export interface Node<T> {
  readonly [key: string]: unknown;
  readonly [READ]: Reader<T>;
  readonly [OPTIONAL]?: true;
  readonly [DOC]: DocText;
}
export type Out<N> = N extends Node<infer T> ? T : never;
type Props = Record<string, Node<unknown>>;
type Shape<P extends Props> = { [K in keyof P]: Out<P[K]> };

function node<T>(json: Record<string, unknown>, read: Reader<T>, meta: Meta | undefined, doc: DocText): Node<T> {
  const out: Record<string | symbol, unknown> = { ...json };
  if (meta) {
    out.description = meta.description;
    if (meta.default !== undefined) out.default = meta.default;
  }
  out[READ] = read;
  out[DOC] = { ...doc, ...meta?.doc };
  return out as unknown as Node<T>;
}

/** Reads `v` at `path` with the node's reader; undefined (with issues) when it is invalid. */
export function readNode<T>(n: Node<T>, v: unknown, path: string, issues: Issues): T | undefined {
  return n[READ](v, path, issues);
}
export const docOf = (n: Node<unknown>): DocText => n[DOC];
export const isOptional = (n: Node<unknown>): boolean => n[OPTIONAL] === true;

/** The key may be left out: the slice's reader decides what its absence means (a derived default, or none). */
export function optional<T>(n: Node<T>, doc?: DocText): Node<T | undefined> {
  return { ...n, [OPTIONAL]: true, [DOC]: { ...n[DOC], ...doc } } as Node<T | undefined>;
}

const range = (min: number, max: number) => `${min}..${max}`;
const msText = (ms: number): string => (ms === 0 ? '0' : ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 ? `${ms / 60_000}m` : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);
const DURATION_PATTERN = '^\\d+(\\.\\d+)?(ms|s|m|h)$';

export const integer = (min: number, max: number, meta: Meta<number>): Node<number> =>
  node({ type: 'integer', minimum: min, maximum: max }, (v, p, i) => f.int(v, p, i, min, max), meta, { type: 'integer', range: range(min, max) });

export const boolean = (meta: Meta<boolean>): Node<boolean> => node({ type: 'boolean' }, f.bool, meta, { type: 'boolean' });

export function string(meta: Meta<string> & { pattern?: RegExp; what?: string }): Node<string> {
  const { pattern, what } = meta;
  return node({ type: 'string', minLength: 1, ...(pattern ? { pattern: pattern.source } : {}) }, (v, p, i) => f.str(v, p, i, { pattern, what }), meta, { type: what ?? 'string' });
}

/** `500ms`, `1s`, `2m`, `1h`, read as milliseconds within [minMs, maxMs]. */
export const duration = (minMs: number, maxMs: number, meta: Meta<string>): Node<number> =>
  node({ type: 'string', pattern: DURATION_PATTERN }, (v, p, i) => f.duration(v, p, i, minMs, maxMs), meta, { type: 'duration', range: `${msText(minMs)}..${msText(maxMs)}` });

export const oneOf = <V extends string>(values: readonly V[], meta: Meta<NoInfer<V>>): Node<V> =>
  node({ type: 'string', enum: [...values] }, (v, p, i) => f.oneOf(v, p, i, values), meta, { type: values.map((x) => `\`${x}\``).join(', ') });

export const listen = (meta: Meta<string>): Node<ListenAddress> =>
  node({ type: 'string', pattern: '^(\\[[0-9a-fA-F:.]+\\]|[0-9.]+):\\d{1,5}$' }, f.listenAddress, meta, { type: 'HOST:PORT' });

export const ipAddress = (meta: Meta<string>): Node<string> =>
  node({ type: 'string', anyOf: [{ format: 'ipv4' }, { format: 'ipv6' }] }, f.ipAddress, meta, { type: 'IP address' });

export const httpUrl = (meta: Meta<string>): Node<string> => node({ type: 'string', pattern: '^https?://' }, f.httpUrl, meta, { type: 'URL' });

export const dnsName = (meta: Meta<string>): Node<string> => node({ type: 'string', minLength: 1, maxLength: 254 }, f.dnsName, meta, { type: 'DNS name' });

export const stringMap = (meta: Meta<Record<string, string>>): Node<Record<string, string>> =>
  node({ type: 'object', additionalProperties: { type: 'string' } }, f.stringMap, meta, { type: 'string map' });

const PLURALS: Record<string, string> = { integer: 'integers', string: 'strings', 'DNS name': 'DNS names', 'IP address': 'IP addresses', URL: 'URLs', 'HOST:PORT': 'listen addresses', duration: 'durations' };
const listType = (items: Node<unknown>, min: number): string => {
  const of = PLURALS[items[DOC].type ?? ''];
  return `list${of ? ` of ${of}` : ''}${min > 0 ? `, at least ${min}` : ''}`;
};

/** A list whose every item is read by `items`; undefined when any item is invalid. */
export function list<T>(items: Node<T>, meta: Meta<unknown[]> & { min?: number }): Node<T[]> {
  const min = meta.min ?? 0;
  return node({ type: 'array', items, ...(min > 0 ? { minItems: min } : {}) }, (v, p, issues) => {
    const xs = f.list(v, p, issues, min);
    if (!xs) return undefined;
    const out = xs.map((x, j) => readNode(items, x, f.join(p, j), issues));
    return out.every((x) => x !== undefined) ? (out as T[]) : undefined;
  }, meta, { type: listType(items, min) });
}

/**
 * A mapping with exactly these keys (others are `unknown property` errors). A key whose node has
 * a default is read with it when absent; an `optional` key is undefined when absent; any other
 * key is required. Undefined when a known key's value is invalid (an unknown key is reported
 * and ignored), every problem recorded.
 */
export function object<P extends Props>(props: P, meta: Meta<Record<string, unknown>>): Node<Shape<P>> {
  const keys = Object.keys(props);
  const required = keys.filter((k) => props[k].default === undefined && !isOptional(props[k]));
  return node({ type: 'object', properties: props, ...(required.length > 0 ? { required } : {}), additionalProperties: false }, (v, p, issues) => {
    const { ok, fields } = readProps(props, v, p, issues);
    return ok ? (fields as Shape<P>) : undefined;
  }, meta, { type: 'mapping' });
}

function readProps(props: Props, v: unknown, p: string, issues: Issues): { ok: boolean; fields: Record<string, unknown> } {
  const keys = Object.keys(props);
  const rec = f.mapping(v, p, issues, keys);
  if (!rec) return { ok: false, fields: {} };
  // An unknown key is reported but leaves the known ones usable, so the checks that depend on
  // this mapping (a step against the clusters' databases) still run and are reported with it.
  const before = issues.length;
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const n = props[k];
    let value = rec[k];
    // An empty mapping (`tcp:` with nothing under it) means its defaults; any other empty
    // value is an error of its type, and a required key left empty is missing.
    if (value === null && n.type === 'object' && n.default !== undefined) value = undefined;
    if (value === undefined || (value === null && n.default === undefined && !isOptional(n))) {
      if (n.default !== undefined) value = n.default;
      else if (isOptional(n)) { out[k] = undefined; continue; }
      else { issues.push({ path: f.join(p, k), message: 'is required' }); continue; }
    }
    out[k] = readNode(n, value, f.join(p, k), issues);
  }
  return { ok: issues.length === before, fields: out };
}

/**
 * Reads an `object` node and also returns the fields that did read when another did not, so a
 * slice can still run its checks between fields (and report them beside the other errors).
 */
export function readFields<T>(n: Node<T>, v: unknown, path: string, issues: Issues): { value: T | undefined; fields: Partial<T> } {
  const { ok, fields } = readProps(n.properties as Props, v, path, issues);
  return { value: ok ? (fields as T) : undefined, fields: fields as Partial<T> };
}

/**
 * A mapping with exactly one of these keys (`- http: {...}`, `- tcp: {...}`); read as `{ kind, value }`.
 * `none` is the message when it has none or several; `emptyIsDefaults`: `- webhook:` with nothing under it is `{}`.
 */
export function exactlyOne<P extends Props>(props: P, meta: Meta & { none: (count: number) => string; type?: string; emptyIsDefaults?: boolean }): Node<{ [K in keyof P]: { kind: K; value: Out<P[K]> } }[keyof P]> {
  const keys = Object.keys(props);
  const shown = Object.fromEntries(keys.map((k) => [k, optional(props[k], { default: 'one of these keys, exactly' })]));
  return node<{ [K in keyof P]: { kind: K; value: Out<P[K]> } }[keyof P]>({ type: 'object', properties: shown, additionalProperties: false, minProperties: 1, maxProperties: 1 }, (v, p, issues) => {
    const rec = f.mapping(v, p, issues, keys);
    if (!rec) return undefined;
    const present = Object.keys(rec);
    if (present.length !== 1) { issues.push({ path: p, message: meta.none(present.length) }); return undefined; }
    const kind = present[0];
    if (!keys.includes(kind)) return undefined;
    const value = readNode(props[kind], meta.emptyIsDefaults ? rec[kind] ?? {} : rec[kind], f.join(p, kind), issues);
    return value === undefined ? undefined : { kind, value } as never;
  }, meta, { type: meta.type ?? `one of ${keys.map((k) => `\`${k}\``).join(', ')}` });
}

/**
 * A value whose JSON Schema and reader are written by hand: alternatives (a step's string or
 * mapping form, `all | any | { atLeast }`), or a list checked as a whole. `json` must describe
 * exactly what `read` accepts; test/unit/config/schema.test.ts checks both on the same inputs.
 */
export const custom = <T>(json: Record<string, unknown>, read: Reader<T>, meta: Meta & { type: string; walk?: Node<unknown> }): Node<T> =>
  ({ ...node(json, read, meta, { type: meta.type }), [CUSTOM]: meta.walk ?? true }) as Node<T>;

/** `${VAR}` in a string value: substituted after parsing, so an editor sees the reference itself. */
const ENV_REFERENCE = { type: 'string', pattern: '\\$\\{[A-Za-z_][A-Za-z0-9_]*\\}', description: 'an environment variable reference, substituted when the file is loaded' };

/** Lets every constrained string (a pattern, a format, an enum) also be a `${VAR}` reference. */
function allowEnvReferences(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(allowEnvReferences);
  if (x === null || typeof x !== 'object') return x;
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(x)) o[k] = k === 'enum' || k === 'const' || k === 'default' || k === 'required' ? v : allowEnvReferences(v);
  if (o.type === 'string' && (o.pattern !== undefined || o.format !== undefined || o.enum !== undefined || o.anyOf !== undefined)) {
    const { description, default: def, ...rest } = o;
    return { ...(description === undefined ? {} : { description }), ...(def === undefined ? {} : { default: def }), anyOf: [rest, ENV_REFERENCE] };
  }
  return o;
}

/** The JSON Schema document of a root node (the symbol-keyed parts left out). */
export function jsonSchema(root: Node<unknown>, meta: { title: string; description: string }): Record<string, unknown> {
  const plain = JSON.parse(JSON.stringify(root)) as Record<string, unknown>;
  return { $schema: 'http://json-schema.org/draft-07/schema#', title: meta.title, ...(allowEnvReferences(plain) as Record<string, unknown>), description: meta.description };
}

/** One documented key: its path (`zone.soa.refresh`, `clusters[].name`) and its node. */
export interface DocRow { path: string; node: Node<unknown> }

/** Every key below `n` in document order, list items as `[]`; custom nodes are leaves unless they name a node to walk. */
export function docRows(n: Node<unknown>, path: string): DocRow[] {
  const rows: DocRow[] = [];
  const walk = (x: Node<unknown>, p: string) => {
    const custom = (x as { [CUSTOM]?: true | Node<unknown> })[CUSTOM];
    if (custom !== undefined && custom !== true) walk(custom, p);
    else if (custom === undefined && x.type === 'object' && x.properties) {
      for (const [k, child] of Object.entries(x.properties as Props)) {
        const cp = p === '' ? k : `${p}.${k}`;
        rows.push({ path: cp, node: child });
        walk(child, cp);
      }
    } else if (custom === undefined && x.type === 'array' && x.items && typeof x.items === 'object' && READ in (x.items as object)) {
      walk(x.items as Node<unknown>, `${p}[]`);
    }
  };
  walk(n, path);
  return rows;
}

// Patch application for the fake Kubernetes API server: JSON merge patch (RFC 7386), JSON patch
// (RFC 6902: add, remove, replace, test, move, copy) and strategic merge patch, which the fake
// treats as a merge patch (lists are replaced, `$patch` directives are not supported).
// Errors are PatchError with the HTTP status the real API server answers with.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export const MERGE_PATCH = 'application/merge-patch+json';
export const JSON_PATCH = 'application/json-patch+json';
export const STRATEGIC_MERGE_PATCH = 'application/strategic-merge-patch+json';

export class PatchError extends Error {
  readonly status: 400 | 415 | 422;
  constructor(status: 400 | 415 | 422, message: string) {
    super(message);
    this.status = status;
  }
}

function isObject(v: Json | undefined): v is { [key: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return structuredClone(patch);
  const out: { [key: string]: Json } = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key] ?? null, value);
  }
  return out;
}

function unescapeToken(t: string): string {
  return t.replaceAll('~1', '/').replaceAll('~0', '~');
}

function parsePointer(pointer: unknown): string[] {
  if (typeof pointer !== 'string' || (pointer !== '' && !pointer.startsWith('/'))) {
    throw new PatchError(400, `invalid JSON pointer ${JSON.stringify(pointer)}`);
  }
  return pointer === '' ? [] : pointer.slice(1).split('/').map(unescapeToken);
}

function containerOf(doc: Json, tokens: string[], pointer: string): { parent: Json; key: string } {
  let cur: Json = doc;
  for (const t of tokens.slice(0, -1)) {
    const next: Json | undefined = Array.isArray(cur) ? cur[Number(t)] : isObject(cur) ? cur[t] : undefined;
    if (next === undefined) throw new PatchError(422, `the path "${pointer}" does not exist`);
    cur = next;
  }
  return { parent: cur, key: tokens[tokens.length - 1] };
}

function get(doc: Json, pointer: string): Json {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return doc;
  const { parent, key } = containerOf(doc, tokens, pointer);
  const v = Array.isArray(parent) ? parent[Number(key)] : isObject(parent) ? parent[key] : undefined;
  if (v === undefined) throw new PatchError(422, `the path "${pointer}" does not exist`);
  return v;
}

function add(doc: Json, pointer: string, value: Json): Json {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return value;
  const { parent, key } = containerOf(doc, tokens, pointer);
  if (Array.isArray(parent)) {
    const i = key === '-' ? parent.length : Number(key);
    if (!Number.isInteger(i) || i < 0 || i > parent.length) throw new PatchError(422, `the path "${pointer}" is out of range`);
    parent.splice(i, 0, value);
  } else if (isObject(parent)) {
    parent[key] = value;
  } else {
    throw new PatchError(422, `the path "${pointer}" does not exist`);
  }
  return doc;
}

function remove(doc: Json, pointer: string): Json {
  const tokens = parsePointer(pointer);
  get(doc, pointer);
  const { parent, key } = containerOf(doc, tokens, pointer);
  if (Array.isArray(parent)) parent.splice(Number(key), 1);
  else if (isObject(parent)) delete parent[key];
  return doc;
}

function deepEqual(a: Json, b: Json): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function jsonPatch(target: Json, patch: Json): Json {
  if (!Array.isArray(patch)) {
    throw new PatchError(400, 'json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp');
  }
  let doc = structuredClone(target);
  for (const op of patch) {
    if (!isObject(op) || typeof op.op !== 'string' || typeof op.path !== 'string') {
      throw new PatchError(400, 'each JSON patch operation needs "op" and "path"');
    }
    const path = op.path;
    switch (op.op) {
      case 'add':
        doc = add(doc, path, structuredClone(op.value ?? null));
        break;
      case 'remove':
        doc = remove(doc, path);
        break;
      case 'replace':
        get(doc, path);
        doc = add(remove(doc, path), path, structuredClone(op.value ?? null));
        break;
      case 'test':
        if (!deepEqual(get(doc, path), op.value ?? null)) throw new PatchError(422, `testing value ${path} failed`);
        break;
      case 'move': {
        const from = typeof op.from === 'string' ? op.from : '';
        const v = get(doc, from);
        doc = add(remove(doc, from), path, v);
        break;
      }
      case 'copy': {
        const from = typeof op.from === 'string' ? op.from : '';
        doc = add(doc, path, structuredClone(get(doc, from)));
        break;
      }
      default:
        throw new PatchError(400, `unexpected JSON patch operation ${JSON.stringify(op.op)}`);
    }
  }
  return doc;
}

/** Applies a patch body of the given Content-Type (parameters after ';' ignored). */
export function applyPatch(contentType: string | undefined, target: Json, patch: Json): Json {
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  switch (type) {
    case MERGE_PATCH:
    case STRATEGIC_MERGE_PATCH:
      if (!isObject(patch)) throw new PatchError(400, 'a merge patch must be a JSON object');
      return mergePatch(target, patch);
    case JSON_PATCH:
      return jsonPatch(target, patch);
    default:
      throw new PatchError(415, `the body of the request was in an unknown format - accepted media types include: ${JSON_PATCH}, ${MERGE_PATCH}, ${STRATEGIC_MERGE_PATCH}`);
  }
}

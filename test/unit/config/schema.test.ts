// The JSON Schema that `switchyard schema` prints and editors use, against the validator it is
// generated beside: the committed copies are current, it is a valid draft-07 schema, it accepts
// every configuration switchyard accepts (an editor never flags a valid file), and what it rejects
// switchyard rejects too; unknown keys are flagged by both at the same place.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { parseDocument } from 'yaml';
import { configJsonSchema, parseConfig } from '../../../src/config/index.ts';
import { SwitchyardError } from '../../../src/errors.ts';
import { runCli } from '../../../src/cli/main.ts';
import { CONFIG_DOC, SCHEMA_FILE, renderConfigDoc, renderSchemaFile } from '../../../scripts/config-docs.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const read = (rel: string): string => readFileSync(join(root, rel), 'utf8');

const ENV = {
  EAST_DATABASE_URL: 'postgres://switchyard:secret@east-db:5432/app', WEST_DATABASE_URL: 'postgres://switchyard:secret@west-db:5432/app',
  SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T0/B0/x', WEBHOOK_SECRET: 'webhook-secret', PD_ROUTING_KEY: 'routing-key',
  SWITCHYARD_ADMIN_TOKEN: 'admin-token', ALERT_WEBHOOK_URL: 'https://hooks.example.com/x',
};

function compile(): ValidateFunction {
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false });
  (addFormats as unknown as (a: Ajv) => void)(ajv);
  return ajv.compile(configJsonSchema());
}

/** `/clusters/1/probes/0` as switchyard writes it: `clusters[1].probes[0]`. */
const keyPath = (pointer: string): string => pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
  .reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc === '' ? p : `${acc}.${p}`), '');

function switchyardIssues(text: string): Array<{ path: string; message: string }> | undefined {
  try {
    parseConfig(text, ENV, '/etc/switchyard');
    return undefined;
  } catch (err) {
    assert.ok(err instanceof SwitchyardError, String(err));
    return err.details!.issues as Array<{ path: string; message: string }>;
  }
}

/** The configurations in the repository: examples, the deploy sample, and the docs' full examples. */
function shippedConfigs(): Array<{ what: string; text: string }> {
  const out = readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.yaml')).map((f) => ({ what: `examples/${f}`, text: read(`examples/${f}`) }));
  out.push({ what: 'deploy/kubernetes/switchyard.yaml', text: read('deploy/kubernetes/switchyard.yaml') });
  const md = read(CONFIG_DOC);
  for (const m of md.matchAll(/```yaml\n([\s\S]*?)```/g)) if (/^zone:/m.test(m[1]) && /^clusters:/m.test(m[1])) out.push({ what: `a ${CONFIG_DOC} example`, text: m[1] });
  return out;
}

test('schema/switchyard.schema.json and docs/configuration.md are what npm run docs:config generates', () => {
  assert.equal(read(SCHEMA_FILE), renderSchemaFile(), `${SCHEMA_FILE} is stale: run npm run docs:config`);
  const doc = read(CONFIG_DOC);
  assert.ok((doc.match(/<!-- schema-table /g) ?? []).length >= 20, 'the reference tables are generated');
  assert.equal(doc, renderConfigDoc(doc), `${CONFIG_DOC} is stale: run npm run docs:config`);
});

test('a description changed in a slice makes the committed docs stale (the staleness check can fail)', () => {
  const doc = read(CONFIG_DOC);
  const edited = doc.replace('| `health.fall` | integer | `3` | 1..100 | consecutive failed checks that mark a probe down |', '| `health.fall` | integer | `3` | 1..100 | something else |');
  assert.notEqual(edited, doc, 'the health.fall row is in the docs as generated');
  assert.equal(renderConfigDoc(edited), doc, 'regenerating restores the row from the schema');
});

test('switchyard schema prints the same schema', async () => {
  const lines: string[] = [];
  const code = await runCli(['schema'], { out: (l: string) => lines.push(l), err: (l: string) => assert.fail(l) } as Parameters<typeof runCli>[1]);
  assert.equal(code, 0);
  assert.equal(`${lines.join('\n')}\n`, read(SCHEMA_FILE));
});

test('every shipped configuration has the modeline and satisfies the schema', () => {
  const validate = compile();
  const configs = shippedConfigs();
  assert.ok(configs.length >= 3, `only ${configs.length} configurations found`);
  for (const { what, text } of configs) {
    if (!what.includes(CONFIG_DOC)) assert.match(text, /^# yaml-language-server: \$schema=(\.\.\/)+schema\/switchyard\.schema\.json\n/, `${what} starts with the modeline`);
    assert.equal(switchyardIssues(text), undefined, `${what} is valid`);
    const ok = validate(parseDocument(text).toJS());
    assert.ok(ok, `${what}: the schema rejects a valid configuration: ${JSON.stringify(validate.errors?.slice(0, 3))}`);
  }
});

// Deterministic mutations of the shipped configurations: a value replaced by one of these, a key
// dropped, or an unknown key added, one to three at a time.
const ODD: unknown[] = [0, -1, 1, 61, 70, 100000, 'x', '', '1s', '10ms', '0s', '5', true, null, [], {}, ['a'], { a: 1 }, '127.0.0.1:1', 'localhost:53',
  'http://x/', 'ftp://x', 'unbounded', 'all', 'any', { atLeast: 2 }, 'switch-traffic', 'A', 'mx', '${SLACK_WEBHOOK_URL}', 'Edge_East', '2500ms'];

function mutations(count: number): string[] {
  let seed = 7;
  const rand = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  const paths = (v: unknown, path: Array<string | number> = [], out: Array<Array<string | number>> = []) => {
    if (path.length > 0) out.push(path);
    if (v !== null && typeof v === 'object') for (const k of Object.keys(v)) paths((v as Record<string, unknown>)[k], [...path, Array.isArray(v) ? Number(k) : k], out);
    return out;
  };
  const out: string[] = [];
  for (const { text } of shippedConfigs()) {
    const base = parseDocument(text).toJS() as Record<string, unknown>;
    const all = paths(base);
    for (let n = 0; n < count; n++) {
      const v = structuredClone(base);
      for (let j = rand(3); j >= 0; j--) {
        const path = all[rand(all.length)];
        let parent: any = v;
        for (const k of path.slice(0, -1)) parent = parent?.[k];
        if (parent === null || typeof parent !== 'object') continue;
        const last = path[path.length - 1];
        const how = rand(3);
        if (how === 1 && !Array.isArray(parent)) delete parent[last];
        else if (how === 2 && !Array.isArray(parent)) parent[`${String(last)}s`] = structuredClone(ODD[rand(ODD.length)]);
        else parent[last] = structuredClone(ODD[rand(ODD.length)]);
      }
      out.push(JSON.stringify(v));
    }
  }
  return out;
}

test('what the schema rejects, switchyard rejects; unknown keys are flagged by both at the same key path', () => {
  const validate = compile();
  let rejectedBySchema = 0;
  let unknownKeys = 0;
  for (const text of mutations(150)) {
    const issues = switchyardIssues(text);
    const ok = validate(JSON.parse(text));
    const errors: ErrorObject[] = validate.errors ?? [];
    if (!ok) {
      rejectedBySchema++;
      assert.ok(issues !== undefined, `the schema rejects what switchyard accepts (an editor would flag a valid file): ${text}\n${JSON.stringify(errors.slice(0, 3))}`);
    }
    for (const i of issues ?? []) {
      if (!/^unknown property '/.test(i.message)) continue;
      unknownKeys++;
      const flagged = errors.some((e) => e.keyword === 'additionalProperties' && keyPath(`${e.instancePath}/${String(e.params.additionalProperty)}`) === i.path);
      assert.ok(flagged, `switchyard says ${i.path}: ${i.message}, the schema does not flag it: ${JSON.stringify(errors.slice(0, 5))}`);
    }
  }
  // Guard the corpus itself: it must exercise both directions.
  assert.ok(rejectedBySchema > 100, `only ${rejectedBySchema} mutations were rejected by the schema`);
  assert.ok(unknownKeys > 30, `only ${unknownKeys} unknown keys were produced`);
});

test('the schema rejects structural errors at the key path switchyard names', () => {
  const validate = compile();
  const base = parseDocument(read('examples/switchyard.yaml')).toJS() as Record<string, any>;
  const cases: Array<[string, (c: Record<string, any>) => void, string]> = [
    ['ttl above 60', (c) => { c.zone.ttl = 61; }, 'zone.ttl'],
    ['a bare number as a duration', (c) => { c.health.interval = 5; }, 'health.interval'],
    ['a host name in a listen address', (c) => { c.dns.listen = ['localhost:53']; }, 'dns.listen[0]'],
    ['one cluster', (c) => { c.clusters = [c.clusters[0]]; }, 'clusters'],
    ['a bad IP address', (c) => { c.clusters[1].addresses = ['127.0.0.300']; }, 'clusters[1].addresses[0]'],
    ['an unknown step', (c) => { c.failover.steps = ['switch-traffic', 'teleport']; }, 'failover.steps[1]'],
    ['a probe with two kinds', (c) => { c.clusters[0].probes[0].tcp = { address: '127.0.0.2:1' }; }, 'clusters[0].probes[0]'],
    ['a missing zone name', (c) => { delete c.zone.name; }, 'zone'],
  ];
  for (const [what, change, path] of cases) {
    const c = structuredClone(base);
    change(c);
    const issues = switchyardIssues(JSON.stringify(c));
    assert.ok(issues?.some((i) => i.path === path || i.path.startsWith(`${path}.`)), `${what}: switchyard reports ${path}: ${JSON.stringify(issues)}`);
    assert.equal(validate(c), false, `${what}: the schema accepts it`);
    assert.ok(validate.errors!.some((e) => keyPath(e.instancePath) === path), `${what}: the schema flags ${path}: ${JSON.stringify(validate.errors)}`);
  }
});

// The pure parity comparison: facts of two clusters in, differences out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blockingFor, compareInventories, imageIdentity, podTemplateRefs, type Inventory, type ObjectFacts } from '../../../src/parity/index.ts';

const inv = (entries: Record<string, ObjectFacts>): Inventory => new Map(Object.entries(entries));
const dep = (images: Record<string, string>, reachable: number): ObjectFacts => ({ kind: 'deployment', present: true, images, reachable, reachableFrom: 'spec.replicas, no hpa' });
const ALL = ['image', 'capacity', 'configmap', 'secret', 'missing'] as const;

test('imageIdentity compares by digest when the reference has one', () => {
  assert.equal(imageIdentity('r/app:1@sha256:abc'), 'sha256:abc');
  assert.equal(imageIdentity('r/app:1'), 'r/app:1');
});

test('compareInventories: each kind of difference, and none for equal facts', () => {
  const a = inv({
    'deployment app/web': dep({ app: 'r/app:1', side: 'r/side:1' }, 10),
    'configmap app/c': { kind: 'configmap', present: true, hash: 'h1' },
    'secret app/s': { kind: 'secret', present: true, hash: 's1' },
    'service app/web': { kind: 'service', present: true },
    'ingress app/web': { kind: 'ingress', present: false },
  });
  const present = new Map([...a].filter(([, f]) => f.present));
  const same = compareInventories({ cluster: 'east', inventory: present }, { cluster: 'west', inventory: present }, ALL, 't');
  assert.deepEqual(same.differences, []);
  // Absent on both sides is still reported: the configuration names something neither cluster has.
  assert.deepEqual(compareInventories({ cluster: 'east', inventory: a }, { cluster: 'west', inventory: a }, ALL, 't').differences.map((d) => d.values), [{ east: 'absent', west: 'absent' }]);
  assert.equal(same.blocking, false);
  const b = inv({
    'deployment app/web': dep({ app: 'r/app:2', extra: 'r/x:1', side: 'r/side:1' }, 4),
    'configmap app/c': { kind: 'configmap', present: true, hash: 'h2' },
    'secret app/s': { kind: 'secret', present: true, hash: 's1' },
    'service app/web': { kind: 'service', present: false },
    'ingress app/web': { kind: 'ingress', present: false },
  });
  const r = compareInventories({ cluster: 'east', inventory: a }, { cluster: 'west', inventory: b }, ['image', 'missing'], 't');
  assert.deepEqual(r.differences.map((d) => [d.kind, d.object, d.blocking]), [
    ['configmap', 'configmap app/c', false],
    ['image', 'deployment app/web container app', true],
    ['image', 'deployment app/web container extra', true],
    ['capacity', 'deployment app/web', false],
    ['missing', 'ingress app/web', true],
    ['missing', 'service app/web', true],
  ]);
  assert.deepEqual(r.differences.find((d) => d.object === 'service app/web')!.values, { east: 'present', west: 'absent' });
  assert.equal(r.differences.find((d) => d.kind === 'capacity')!.short, 'west');
  assert.equal(r.blocking, true);
});

test('blockingFor: capacity blocks only a move to the smaller side', () => {
  const a = inv({ 'deployment app/web': dep({ app: 'r/app:1' }, 10) });
  const b = inv({ 'deployment app/web': dep({ app: 'r/app:1' }, 4) });
  const r = compareInventories({ cluster: 'east', inventory: a }, { cluster: 'west', inventory: b }, ALL, 't');
  assert.equal(blockingFor(r, 'west').length, 1);
  assert.equal(blockingFor(r, 'east').length, 0);
});

test('podTemplateRefs finds ConfigMaps, Secrets and PVCs in volumes, projected volumes, envFrom and env', () => {
  const refs = { configMaps: new Set<string>(), secrets: new Set<string>(), pvcs: new Set<string>() };
  podTemplateRefs({
    initContainers: [{ name: 'init', envFrom: [{ configMapRef: { name: 'cm-init' } }] }],
    containers: [{ name: 'app', envFrom: [{ secretRef: { name: 's-env' } }], env: [{ valueFrom: { configMapKeyRef: { name: 'cm-key' } } }, { valueFrom: { secretKeyRef: { name: 's-key' } } }] }],
    volumes: [{ configMap: { name: 'cm-vol' } }, { secret: { secretName: 's-vol' } }, { persistentVolumeClaim: { claimName: 'data' } }, { projected: { sources: [{ configMap: { name: 'cm-proj' } }, { secret: { name: 's-proj' } }] } }],
  }, refs);
  assert.deepEqual([...refs.configMaps].sort(), ['cm-init', 'cm-key', 'cm-proj', 'cm-vol']);
  assert.deepEqual([...refs.secrets].sort(), ['s-env', 's-key', 's-proj', 's-vol']);
  assert.deepEqual([...refs.pvcs], ['data']);
});

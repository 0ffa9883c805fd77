// A benchmark's knobs, read from the environment: a wrong value is a KnobError naming the knob,
// which the benchmark reports before starting anything.
export class KnobError extends Error {}

/** An integer from `min` to `max`; `fallback` when unset or empty. */
export function intKnob(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new KnobError(`${name}=${raw}: expected an integer from ${min} to ${max}`);
  return n;
}

/** A comma-separated list of names out of `known`; all of `known` when unset or blank. */
export function namesKnob<T extends string>(name: string, known: readonly T[]): T[] {
  const names = (process.env[name] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) return [...known];
  const unknown = names.filter((n) => !(known as readonly string[]).includes(n));
  if (unknown.length > 0) throw new KnobError(`${name}: unknown ${unknown.map((u) => `'${u}'`).join(', ')} (known: ${known.join(', ')})`);
  return names as T[];
}

// Runs one step attempt under its timeout and the shutdown signal. The step gets an
// AbortSignal; a step that ignores it is still abandoned at the deadline.
import { SwitchyardError } from '../errors.ts';

export function runWithTimeout<T>(fn: (signal: AbortSignal) => Promise<T>, timeoutMs: number, shutdown: AbortSignal, name: string): Promise<T> {
  const ac = new AbortController();
  return new Promise<T>((resolve, reject) => {
    const fail = (reason: unknown) => { cleanup(); ac.abort(reason); reject(reason); };
    const timer = setTimeout(() => fail(new SwitchyardError('SWY_FAILOVER_STEP_TIMEOUT', `step ${name} did not finish within ${timeoutMs} ms`, { step: name, timeoutMs })), timeoutMs);
    const onShutdown = () => fail(shutdown.reason);
    const cleanup = () => { clearTimeout(timer); shutdown.removeEventListener('abort', onShutdown); };
    if (shutdown.aborted) { onShutdown(); return; }
    shutdown.addEventListener('abort', onShutdown, { once: true });
    let p: Promise<T>;
    try { p = fn(ac.signal); } catch (err) { fail(err); return; }
    p.then((v) => { if (!ac.signal.aborted) { cleanup(); resolve(v); } }, (err) => { if (!ac.signal.aborted) fail(err); });
  });
}

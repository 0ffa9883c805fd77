// The tcp probe: a check passes when a TCP connection to host:port is established; the
// connection is closed at once.
import { connect } from 'node:net';
import type { TcpProbeConfig } from '../../config/index.ts';
import type { Probe } from '../types.ts';

export function createTcpProbe(config: TcpProbeConfig): Probe {
  return {
    name: config.name,
    check(signal) {
      return new Promise<void>((resolve, reject) => {
        if (signal.aborted) {
          reject(signal.reason);
          return;
        }
        const socket = connect({ host: config.host, port: config.port });
        const finish = (err: unknown): void => {
          signal.removeEventListener('abort', onAbort);
          socket.destroy();
          if (err === null) resolve();
          else reject(err);
        };
        const onAbort = (): void => finish(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        socket.once('connect', () => finish(null));
        socket.once('error', (err) => finish(err));
      });
    },
  };
}

// What a configured step will do in a given move, in words for the dry-run plan. Pure.
import type { StepConfig } from '../config/index.ts';

export function describeStep(step: StepConfig, from: string, to: string): string {
  switch (step.type) {
    case 'switch-traffic': return `DNS answers and the proxy upstream move from ${from} to ${to} (exactly once; new traffic stops going to ${from})`;
    case 'kubernetes-scale': {
      const what = [...step.deployments.map((d) => `deployment ${d}`), ...step.hpas.map((h) => `hpa ${h} (minReplicas)`)].join(', ');
      return `scale ${what} in namespace ${step.namespace} on ${to} to ${step.replicas} replicas${step.wait ? ', waiting until they are available' : ''}`;
    }
    case 'postgres-fence': return `make ${from}'s database read-only where it is reachable${step.terminateSessions ? ', ending its open sessions' : ''}`;
    case 'postgres-promote': {
      const bounds = [step.maxLagBytes === undefined ? '' : `${step.maxLagBytes} bytes`, step.maxLagSeconds === undefined ? '' : `${step.maxLagSeconds} s`].filter(Boolean).join(' and ');
      return `promote ${to}'s standby database${bounds ? ` if its lag is within ${bounds}` : ''}, checking pg_is_in_recovery() before and after`;
    }
    case 'exec': return `run ${JSON.stringify(step.command.join(' '))}`;
    case 'webhook': return `POST the move (${step.format}) to ${new URL(step.url).origin}`;
  }
}

export { compareClusters, podTemplateRefs } from './collect.ts';
export { compareInventories, blockingFor, describeDifference, formatReport, summarizeReport, imageIdentity, type Inventory, type ObjectFacts, type ParityDifference, type ParityReport } from './compare.ts';
export { createParityMonitor, type ParityMonitor, type ParityMonitorDeps } from './monitor.ts';

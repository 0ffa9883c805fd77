// The contract between the parts that raise events people must hear about (holds, completed
// moves, an unfenced old primary, state-store failures) and the `notify` list that delivers
// them. notify() never throws and never blocks its caller: delivery (with retries) happens in
// the background, so a broken receiver can never delay or stop a failover.

export type NotifyEventKind =
  | 'hold'              // the workflow is held: a person must decide (details.code names the hold)
  | 'completed'         // a move completed (failover, switchover, failback)
  | 'unfenced'          // the old primary could not be fenced and is not active: it may take writes
  | 'fenced'            // a previously unfenced old primary has now been fenced
  | 'store-failure'     // the routing state could not be written (or its file went missing)
  | 'store-recovered';  // the routing state is being written again

export interface NotifyEvent {
  kind: NotifyEventKind;
  /** One line for a person: what happened and why. */
  summary: string;
  severity: 'critical' | 'warning' | 'info';
  /** Stable error code where there is one (SWY_...). */
  code?: string;
  cluster?: string;
  epoch?: number;
  details?: Record<string, unknown>;
}

export interface Notifier {
  notify(event: NotifyEvent): void;
}

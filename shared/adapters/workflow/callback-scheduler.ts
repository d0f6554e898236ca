import type { SFNClient } from '@aws-sdk/client-sfn';
import type { CallbackScheduler } from '#shared/callbacks/delivery';
import { startExecutionOf } from './step-functions.ts';

/**
 * The callback state machine in AWS, or nothing when no callback target is configured (the stack then sets no ARN).
 * An execution is named by the request id, so a second start (a retried finalize) is refused by Step Functions itself.
 * @param sfn the function's one Step Functions client, shared with its other Step Functions calls
 */
export function createCallbackScheduler(
  sfn: Pick<SFNClient, 'send'>,
  stateMachineArn: string | undefined,
): CallbackScheduler | undefined {
  if (!stateMachineArn) return undefined;
  return { schedule: (requestId) => startExecutionOf(sfn, stateMachineArn, requestId) };
}

/** `{ callbacks }` for a function's dependencies when a callback state machine is configured, else nothing. */
export function withCallbacks(
  sfn: Pick<SFNClient, 'send'>,
  stateMachineArn: string | undefined,
): { callbacks?: CallbackScheduler } {
  const callbacks = createCallbackScheduler(sfn, stateMachineArn);
  return callbacks ? { callbacks } : {};
}

import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  ExecutionNotRedrivable,
  RedriveExecutionCommand,
  type SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import {
  type ChainLink,
  type EnsureRunningResult,
  MAX_WORKFLOW_RESUMES,
  type WorkflowEngine,
} from '#shared/ports/audit';

/**
 * AWS Step Functions (Standard). The execution is named after the request id, so a second start for the same request is
 * refused by Step Functions itself: a duplicate webhook or a retried intake can never run the erasure twice.
 */
export class StepFunctionsWorkflowEngine implements WorkflowEngine {
  readonly #sfn: Pick<SFNClient, 'send'>;
  readonly #stateMachineArn: string;

  constructor(sfn: Pick<SFNClient, 'send'>, stateMachineArn: string) {
    this.#sfn = sfn;
    this.#stateMachineArn = stateMachineArn;
  }

  start(requestId: string, schedule?: { dueAt: string; receivedAt: string; lastEvent?: ChainLink }): Promise<void> {
    return erasureWorkflowStarter(this.#sfn, this.#stateMachineArn).start(requestId, schedule);
  }

  async ensureRunning(requestId: string): Promise<EnsureRunningResult> {
    const executionArnOfRequest = executionArn(this.#stateMachineArn, requestId);
    let execution: { status?: string; redriveCount?: number; redriveStatus?: string };
    try {
      execution = await this.#sfn.send(new DescribeExecutionCommand({ executionArn: executionArnOfRequest }));
    } catch (error) {
      if (!(error instanceof ExecutionDoesNotExist)) throw error;
      await this.start(requestId);
      return 'started';
    }
    if (execution.status === 'RUNNING' || execution.status === 'PENDING_REDRIVE') return 'running';
    if (execution.status === 'SUCCEEDED') return 'ended';
    // FAILED, TIMED_OUT or ABORTED (a cancel makes its request final, so it never gets here): resume at the failed
    // state; every step is idempotent, so what already happened is not done again.
    if ((execution.redriveCount ?? 0) >= MAX_WORKFLOW_RESUMES) return 'gave-up';
    // Some failed executions cannot be resumed at all: one that reached the history's 25,000 events, or failed more
    // than 14 days ago. Refused, the redrive would throw at every sweep and end it before the requests after this one.
    if (execution.redriveStatus === 'NOT_REDRIVABLE') return 'gave-up';
    try {
      await this.#sfn.send(new RedriveExecutionCommand({ executionArn: executionArnOfRequest }));
    } catch (error) {
      if (error instanceof ExecutionNotRedrivable) return 'gave-up';
      throw error;
    }
    return 'redriven';
  }

  async stop(requestId: string): Promise<void> {
    try {
      await this.#sfn.send(
        new StopExecutionCommand({
          executionArn: executionArn(this.#stateMachineArn, requestId),
          error: 'RequestCanceled',
          cause: 'The erasure request was canceled during its waiting period',
        }),
      );
    } catch (error) {
      if (!(error instanceof ExecutionDoesNotExist)) throw error;
    }
  }
}

/**
 * `WorkflowEngine.start` alone, for the functions that only start erasure workflows (the intakes): they then bundle
 * none of the engine's other calls (describe, redrive, stop) and their schemas.
 */
export function erasureWorkflowStarter(
  sfn: Pick<SFNClient, 'send'>,
  stateMachineArn: string,
): Pick<WorkflowEngine, 'start'> {
  return {
    start: (requestId, schedule) =>
      // Where intake left the chain head, with the receipt time, so the first step writes without reading the request.
      startExecutionOf(
        sfn,
        stateMachineArn,
        requestId,
        schedule?.lastEvent ? { receivedAt: schedule.receivedAt, lastEvent: schedule.lastEvent } : {},
      ),
  };
}

/**
 * Starts the request's execution of a Standard state machine, named by the request id. A second start finds the name
 * taken (`ExecutionAlreadyExists`), which is success: the execution runs once. A function of its own so that a
 * function that only starts executions (the callbacks' scheduler) bundles none of the engine's other calls.
 * @param hint more of the input beside the request id; nothing personal (Step Functions keeps the input for 90 days
 *   after the end)
 */
export async function startExecutionOf(
  sfn: Pick<SFNClient, 'send'>,
  stateMachineArn: string,
  requestId: string,
  hint: Record<string, unknown> = {},
): Promise<void> {
  try {
    await sfn.send(
      new StartExecutionCommand({ stateMachineArn, name: requestId, input: JSON.stringify({ requestId, ...hint }) }),
    );
  } catch (error) {
    if (!(error instanceof ExecutionAlreadyExists)) throw error;
  }
}

/** `arn:aws:states:r:a:stateMachine:M` + name → `arn:aws:states:r:a:execution:M:name`. */
export const executionArn = (stateMachineArn: string, name: string): string =>
  `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;

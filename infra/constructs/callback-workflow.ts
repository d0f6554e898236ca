import path from 'node:path';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { FunctionStateMachine } from './function-state-machine.ts';
import { type HandlerFunction, PROJECT_ROOT } from './handler-function.ts';

/** The callback state machine's definition, shared with the local runtime. */
export const CALLBACK_ASL_FILE = path.join(PROJECT_ROOT, 'infra', 'state-machines', 'callback.asl.json');

export interface CallbackWorkflowProps {
  readonly deliveryFunction: HandlerFunction;
  readonly logRetention: logs.RetentionDays;
}

/**
 * Completion callbacks, apart from the erasure workflow: a Standard state machine per ended request (named by its id)
 * that retries delivery for a day. Apart, because a request's end is often not its workflow's (a cancel stops the
 * workflow), and because waiting a day on a receiver must not keep the erasure's execution open. A Wait between retries
 * costs nothing in a Standard workflow, and the execution history shows every attempt.
 */
export class CallbackWorkflow extends FunctionStateMachine {
  constructor(scope: Construct, id: string, props: CallbackWorkflowProps) {
    super(scope, id, {
      aslFile: CALLBACK_ASL_FILE,
      type: sfn.StateMachineType.STANDARD,
      functions: [
        { function: props.deliveryFunction, name: 'callback-delivery', arnSubstitution: 'CallbackDeliveryFunctionArn' },
      ],
      purpose: 'Runs the completion callbacks: invokes the callback-delivery function',
      logSuffix: 'callbacks',
      logRetention: props.logRetention,
      errorLogsOnlyReason:
        'Logs ERROR events only, without execution data; every delivery and final failure is recorded in the ' +
        "request's delivery log (audit events table), and the execution history keeps each attempt for 90 days.",
    });
  }

  /** Allows starting executions of this state machine and nothing else on it. */
  grantStart(fn: HandlerFunction): void {
    this.grant(fn, 'states:StartExecution');
  }
}

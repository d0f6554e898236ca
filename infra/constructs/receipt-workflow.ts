import path from 'node:path';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { FunctionStateMachine } from './function-state-machine.ts';
import { type HandlerFunction, PROJECT_ROOT } from './handler-function.ts';

/** The receipt state machine's definition, shared with the local runtime. */
export const RECEIPT_ASL_FILE = path.join(PROJECT_ROOT, 'infra', 'state-machines', 'receipt.asl.json');

export interface ReceiptWorkflowProps {
  readonly issuerFunction: HandlerFunction;
  readonly logRetention: logs.RetentionDays;
}

/**
 * Receipt issuance: an Express state machine that invokes the receipt-issuer function, run synchronously
 * (`states:StartSyncExecution`) by the four functions that end requests, between the sealing event and the final
 * status. Express, because a call waits for it (Standard has no synchronous start) and it lasts seconds; through Step
 * Functions at all because those functions carry its client already, where a Lambda client would add 70 KiB to each.
 */
export class ReceiptWorkflow extends FunctionStateMachine {
  constructor(scope: Construct, id: string, props: ReceiptWorkflowProps) {
    super(scope, id, {
      aslFile: RECEIPT_ASL_FILE,
      type: sfn.StateMachineType.EXPRESS,
      function: props.issuerFunction,
      functionName: 'receipt-issuer',
      functionArnSubstitution: 'ReceiptIssuerFunctionArn',
      purpose: 'Issues receipts: invokes the receipt-issuer function',
      logSuffix: 'receipts',
      logRetention: props.logRetention,
      errorLogsOnlyReason:
        "Logs ERROR events only, without execution data; the caller receives each execution's outcome, and the " +
        'receipt-issuer function logs every issue with the request id.',
    });
  }

  /** Allows running this state machine synchronously, and nothing else on it. */
  grantIssue(fn: HandlerFunction): void {
    this.grant(fn, 'states:StartSyncExecution');
  }
}

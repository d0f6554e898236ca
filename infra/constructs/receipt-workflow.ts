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
  readonly publisherFunction: HandlerFunction;
  readonly logRetention: logs.RetentionDays;
}

/**
 * Receipt issuance: an Express state machine that invokes the receipt-issuer function (signs, appends to the log),
 * then the tree-head-publisher function (puts the signed head to the Object Lock bucket), run synchronously
 * (`states:StartSyncExecution`) by the four functions that end requests, between the sealing event and the final
 * status. Express, because a call waits for it (Standard has no synchronous start) and it lasts seconds; through Step
 * Functions at all because those functions carry its client already, where a Lambda client would add 70 KiB to each.
 * Two functions rather than one for least privilege (the signer cannot write the bucket, the publisher cannot sign)
 * and for the issuer's cold start, which loads no S3 client.
 */
export class ReceiptWorkflow extends FunctionStateMachine {
  constructor(scope: Construct, id: string, props: ReceiptWorkflowProps) {
    super(scope, id, {
      aslFile: RECEIPT_ASL_FILE,
      type: sfn.StateMachineType.EXPRESS,
      functions: [
        { function: props.issuerFunction, name: 'receipt-issuer', arnSubstitution: 'ReceiptIssuerFunctionArn' },
        {
          function: props.publisherFunction,
          name: 'tree-head-publisher',
          arnSubstitution: 'TreeHeadPublisherFunctionArn',
        },
      ],
      purpose: 'Issues receipts: invokes the receipt-issuer and tree-head-publisher functions',
      logSuffix: 'receipts',
      logRetention: props.logRetention,
      errorLogsOnlyReason:
        "Logs ERROR events only, without execution data; the caller receives each execution's outcome, and the " +
        'receipt-issuer function logs every issue with the request id, the tree-head-publisher every head published.',
    });
  }

  /** Allows running this state machine synchronously, and nothing else on it. */
  grantIssue(fn: HandlerFunction): void {
    this.grant(fn, 'states:StartSyncExecution');
  }
}

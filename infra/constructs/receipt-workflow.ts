import path from 'node:path';
import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
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
export class ReceiptWorkflow extends Construct {
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: ReceiptWorkflowProps) {
    super(scope, id);
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('states.amazonaws.com'),
      description: 'Issues receipts: invokes the receipt-issuer function',
    });
    // The ASL names the function by unqualified ARN: no `:*` version/alias grant.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [props.issuerFunction.functionArn] }),
    );
    const logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/aws/vendedlogs/states/${Stack.of(this).stackName}-receipts`,
      retention: props.logRetention,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.EXPRESS,
      definitionBody: sfn.DefinitionBody.fromFile(RECEIPT_ASL_FILE),
      definitionSubstitutions: { ReceiptIssuerFunctionArn: props.issuerFunction.functionArn },
      role,
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ERROR, includeExecutionData: false },
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Added by Step Functions logging and tracing: the CloudWatch Logs log-delivery actions and the X-Ray actions ' +
        'support no resource-level permissions. The only invoke permission names the receipt-issuer function.',
    });
    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions-SF1',
      reason:
        "Logs ERROR events only, without execution data; the caller receives each execution's outcome, and the " +
        'receipt-issuer function logs every issue with the request id.',
    });
  }

  /** Allows running this state machine synchronously, and nothing else on it. */
  grantIssue(fn: HandlerFunction): void {
    fn.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['states:StartSyncExecution'],
        resources: [this.stateMachine.stateMachineArn],
      }),
    );
  }
}

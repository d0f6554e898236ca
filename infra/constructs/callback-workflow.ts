import path from 'node:path';
import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
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
export class CallbackWorkflow extends Construct {
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: CallbackWorkflowProps) {
    super(scope, id);
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('states.amazonaws.com'),
      description: 'Runs the completion callbacks: invokes the callback-delivery function',
    });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [props.deliveryFunction.functionArn] }),
    );
    const logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/aws/vendedlogs/states/${Stack.of(this).stackName}-callbacks`,
      retention: props.logRetention,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromFile(CALLBACK_ASL_FILE),
      definitionSubstitutions: { CallbackDeliveryFunctionArn: props.deliveryFunction.functionArn },
      role,
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ERROR, includeExecutionData: false },
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Added by Step Functions logging and tracing: the CloudWatch Logs log-delivery actions and the X-Ray actions ' +
        'support no resource-level permissions. The only invoke permission names the callback-delivery function.',
    });
    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions-SF1',
      reason:
        'Logs ERROR events only, without execution data; every delivery and final failure is recorded in the ' +
        "request's delivery log (audit events table), and the execution history keeps each attempt for 90 days.",
    });
  }

  /** Allows starting executions of this state machine and nothing else on it. */
  grantStart(fn: HandlerFunction): void {
    fn.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [this.stateMachine.stateMachineArn] }),
    );
  }
}

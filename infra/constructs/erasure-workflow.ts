import path from 'node:path';
import { ArnFormat, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { type HandlerFunction, PROJECT_ROOT } from './handler-function.ts';

/** The workflow definition, shared with the local Step Functions runtime. */
export const ASL_FILE = path.join(PROJECT_ROOT, 'infra', 'state-machines', 'erasure.asl.json');

export interface ErasureWorkflowProps {
  readonly requestTasks: HandlerFunction;
  readonly referralRockTasks: HandlerFunction;
  readonly firstPromoterTasks: HandlerFunction;
  readonly logRetention: logs.RetentionDays;
}

/**
 * The erasure workflow: a Standard state machine (a run can wait through the waiting period and poll a provider's
 * batch for hours, and every step must run at most once) deployed from the same ASL file the local runtime runs.
 */
export class ErasureWorkflow extends Construct {
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: ErasureWorkflowProps) {
    super(scope, id);
    const tasks = [props.requestTasks, props.referralRockTasks, props.firstPromoterTasks];

    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('states.amazonaws.com'),
      description: 'Runs the GDPR erasure workflow: invokes its three task functions',
    });
    // The ASL names the functions by unqualified ARN, so no `:*` version/alias grant is needed.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: tasks.map((task) => task.functionArn),
      }),
    );

    const logGroup = new logs.LogGroup(this, 'Logs', {
      // The /aws/vendedlogs/ prefix keeps Step Functions' log delivery from growing the account's log resource policy.
      logGroupName: `/aws/vendedlogs/states/${Stack.of(this).stackName}-erasure`,
      retention: props.logRetention,
    });

    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromFile(ASL_FILE),
      definitionSubstitutions: {
        RequestTasksFunctionArn: props.requestTasks.functionArn,
        ReferralRockTasksFunctionArn: props.referralRockTasks.functionArn,
        FirstPromoterTasksFunctionArn: props.firstPromoterTasks.functionArn,
      },
      role,
      tracingEnabled: true,
      // Failures only, and without execution data: inputs and outputs stay out of CloudWatch Logs altogether.
      logs: { destination: logGroup, level: sfn.LogLevel.ERROR, includeExecutionData: false },
    });

    const validations = Validations.of(role);
    validations.acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Added by Step Functions logging and tracing: the CloudWatch Logs log-delivery actions and the X-Ray actions ' +
        'support no resource-level permissions. The only invoke permission names the three task functions.',
    });
    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions-SF1',
      reason:
        'Logs ERROR events only, which is what the alarms and an operator investigating a failure need; ALL would ' +
        'log every state transition of every erasure for no added audit value: the audit trail is the events table, ' +
        'and the full execution history stays in Step Functions for 90 days.',
    });
  }

  /** Allows starting executions of this state machine and nothing else on it. */
  grantStart(fn: HandlerFunction): void {
    fn.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [this.stateMachine.stateMachineArn] }),
    );
  }

  /**
   * Allows stopping executions of this state machine. Executions are named after request ids, which exist only at run
   * time, hence the `execution:<name>:*` pattern.
   */
  grantStop(fn: HandlerFunction): void {
    this.#grantOnExecutions(fn, ['states:StopExecution'], 'Stopping');
  }

  /**
   * Allows starting, inspecting and redriving executions: what the request sweeper needs to make sure every unfinished
   * request has a running workflow.
   */
  grantResume(fn: HandlerFunction): void {
    this.grantStart(fn);
    this.#grantOnExecutions(fn, ['states:DescribeExecution', 'states:RedriveExecution'], 'Inspecting and redriving');
  }

  #grantOnExecutions(fn: HandlerFunction, actions: string[], what: string): void {
    fn.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources: [this.executionArnPattern] }));
    const stack = Stack.of(this);
    const logicalId = stack.resolve((this.stateMachine.node.defaultChild as sfn.CfnStateMachine).logicalId);
    Validations.of(fn.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<${logicalId}.Name>:*]`,
      reason:
        `${what} is allowed on executions of the erasure state machine only; the wildcard stands for the execution ` +
        'name, which is the request id and exists only at run time.',
    });
  }

  /** `arn:…:execution:<state machine name>:*`, every execution of this state machine. */
  get executionArnPattern(): string {
    return Stack.of(this).formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${this.stateMachine.stateMachineName}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }
}

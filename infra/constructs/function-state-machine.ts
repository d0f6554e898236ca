import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { HandlerFunction } from './handler-function.ts';

export interface FunctionStateMachineProps {
  /** The ASL file, shared with the local runtime. */
  readonly aslFile: string;
  readonly type: sfn.StateMachineType;
  /**
   * The functions its Task states invoke: each with its folder name under functions/ (as the cdk-nag reasons name it)
   * and the substitution that names its ARN in the ASL file.
   */
  readonly functions: ReadonlyArray<{
    readonly function: HandlerFunction;
    readonly name: string;
    readonly arnSubstitution: string;
  }>;
  /** The role's description: what the machine does. */
  readonly purpose: string;
  /** The log group's name ends `<stack>-<logSuffix>` (under /aws/vendedlogs/states/, as Step Functions requires). */
  readonly logSuffix: string;
  readonly logRetention: logs.RetentionDays;
  /** Why ERROR-level logs without execution data are enough here (cdk-nag AwsSolutions-SF1). */
  readonly errorLogsOnlyReason: string;
}

/**
 * A state machine whose Tasks invoke the functions given, from an ASL file: its own role, allowed to invoke those
 * functions alone (by unqualified ARN, as the ASL names it: no `:*` version or alias grant); X-Ray tracing; ERROR-level logs
 * without execution data, since the data is the request's and the trail records it. The receipt and callback
 * machines are such; the erasure workflow, with two task functions and its own alarms, is not.
 */
export class FunctionStateMachine extends Construct {
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: FunctionStateMachineProps) {
    super(scope, id);
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('states.amazonaws.com'),
      description: props.purpose,
    });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: props.functions.map((f) => f.function.functionArn),
      }),
    );
    const logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/aws/vendedlogs/states/${Stack.of(this).stackName}-${props.logSuffix}`,
      retention: props.logRetention,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: props.type,
      definitionBody: sfn.DefinitionBody.fromFile(props.aslFile),
      definitionSubstitutions: Object.fromEntries(
        props.functions.map((f) => [f.arnSubstitution, f.function.functionArn]),
      ),
      role,
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ERROR, includeExecutionData: false },
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Added by Step Functions logging and tracing: the CloudWatch Logs log-delivery actions and the X-Ray actions ' +
        'support no resource-level permissions. The only invoke permission names the ' +
        `${props.functions.map((f) => f.name).join(' and ')} function${props.functions.length > 1 ? 's' : ''}.`,
    });
    Validations.of(this.stateMachine).acknowledge({ id: 'AwsSolutions-SF1', reason: props.errorLogsOnlyReason });
  }

  /** Allows `action` (a Step Functions start) on this state machine, and nothing else on it. */
  protected grant(fn: HandlerFunction, action: 'states:StartExecution' | 'states:StartSyncExecution'): void {
    fn.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: [action], resources: [this.stateMachine.stateMachineArn] }),
    );
  }
}

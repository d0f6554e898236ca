import { RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { RATE_BUDGETS_TABLE } from '#shared/adapters/dynamodb/tables';

export interface RateBudgetTableProps {
  readonly encryptionKey: kms.IKey;
}

/**
 * The providers' rate budgets: one item per provider account, holding the time its next request may start, shared by
 * every function that calls the provider (see `shared/adapters/dynamodb/rate-budget.ts`). Nothing in it is personal or
 * worth keeping: no point-in-time recovery, no deletion protection, destroyed with the stack.
 */
export class RateBudgetTable extends Construct {
  readonly table: dynamodb.Table;
  readonly #key: kms.IKey;

  constructor(scope: Construct, id: string, props: RateBudgetTableProps) {
    super(scope, id);
    this.#key = props.encryptionKey;
    this.table = new dynamodb.Table(this, 'RateBudgets', {
      partitionKey: { name: RATE_BUDGETS_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.encryptionKey,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: false },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    Validations.of(this.table).acknowledge({
      id: 'AwsSolutions-DDB3',
      reason:
        'Holds one number per provider account, the time its next request may start, rewritten on every provider ' +
        'call: nothing to recover. A table restored or lost starts empty, which the budget reads as idle.',
    });
  }

  /** Allows taking slots: GetItem and UpdateItem on the table, and the key only through DynamoDB. */
  grantTake(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        resources: [this.table.tableArn],
      }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'],
        resources: [this.#key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${Stack.of(this).region}.amazonaws.com` } },
      }),
    );
  }
}

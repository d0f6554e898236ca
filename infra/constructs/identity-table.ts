import { RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { IDENTITIES_TABLE } from '#shared/adapters/dynamodb/tables';

export interface IdentityTableProps {
  /** Encrypts the table (the data key the other tables use). */
  readonly encryptionKey: kms.IKey;
}

/** The attributes the request sweeper may read: enough to find stray identities, never the ciphertext. */
export const SWEEPER_IDENTITY_ATTRIBUTES = ['id', 'createdAt'] as const;

/**
 * The encrypted identity of each open request (see IDENTITIES_TABLE in `shared/adapters/dynamodb/tables.ts`), apart
 * from the audit tables because, unlike them, it has no point-in-time recovery: an identity deleted here cannot be
 * restored, which is what "destroyed" promises the subject. TTL removes any identity nothing deleted (62 days after the
 * request's due date). Retained and deletion-protected like the other tables: open requests need their identities.
 *
 * Each grant names one action: intake puts, the provider task functions get, the functions that end a request delete,
 * and the request sweeper scans the ids (no other attribute) to delete strays.
 */
export class IdentityTable extends Construct {
  readonly table: dynamodb.Table;
  readonly #key: kms.IKey;

  constructor(scope: Construct, id: string, props: IdentityTableProps) {
    super(scope, id);
    this.#key = props.encryptionKey;
    this.table = new dynamodb.Table(this, 'Identities', {
      partitionKey: { name: IDENTITIES_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: IDENTITIES_TABLE.ttlAttribute,
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: false },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.encryptionKey,
    });
    Validations.of(this.table).acknowledge({
      id: 'AwsSolutions-DDB3',
      reason:
        'Point-in-time recovery is off on purpose: this table holds only the encrypted identities of open requests, and ' +
        'a restorable backup would keep every destroyed identity recoverable for 35 days, defeating the erasure. ' +
        'Losing the table loses nothing the audit trail needs; open requests would end failed and be resubmitted.',
    });
  }

  /** Allows storing identities (PutItem; the code's put is conditional and never overwrites another payload's). */
  grantPut(grantee: iam.IGrantable): void {
    this.#grant(grantee, ['dynamodb:PutItem']);
  }

  /** Allows reading one identity by request id, in the one BatchGetItem that reads its request item with it. */
  grantRead(grantee: iam.IGrantable): void {
    this.#grant(grantee, ['dynamodb:BatchGetItem']);
  }

  /** Allows deleting identities by request id. */
  grantDestroy(grantee: iam.IGrantable): void {
    this.#grant(grantee, ['dynamodb:DeleteItem']);
  }

  /**
   * Allows scanning the request ids and write times, and nothing else of the items: DynamoDB's fine-grained access
   * control refuses a Scan that asks for another attribute or for all of them.
   */
  grantScanKeys(grantee: iam.IGrantable): void {
    this.#grant(grantee, ['dynamodb:Scan'], {
      'ForAllValues:StringEquals': { 'dynamodb:Attributes': [...SWEEPER_IDENTITY_ATTRIBUTES] },
      StringEqualsIfExists: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
    });
  }

  #grant(grantee: iam.IGrantable, actions: string[], conditions?: Record<string, unknown>): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions, resources: [this.table.tableArn], ...(conditions ? { conditions } : {}) }),
    );
    // DynamoDB uses the customer managed key on the caller's behalf; the condition keeps the role from using it directly.
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'],
        resources: [this.#key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${Stack.of(this).region}.amazonaws.com` } },
      }),
    );
  }
}

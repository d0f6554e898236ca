import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { TRANSPARENCY_LOG_TABLE } from '#shared/adapters/dynamodb/tables';
import { SERVICE_NAME } from '#shared/observability';

export interface TransparencyLogProps {
  /** Encrypts the log table (the data key the other tables use). */
  readonly encryptionKey: kms.IKey;
  /** How long each published tree head is locked in compliance mode: the audit retention. */
  readonly retentionDays: number;
}

/**
 * Receipts and the transparency log: the receipt signing key (KMS, ECC_NIST_P256, SIGN_VERIFY: the private key never
 * leaves KMS), the log table (receipts, leaves, subtree hashes, signed heads, keys) and the bucket the signed tree heads
 * are published to, with Object Lock in compliance mode for the audit retention: once written, no one — the service,
 * an administrator, the account's root user — can change or delete a head before it expires, so a rewritten log is
 * shown up by the heads published before.
 *
 * Least privilege: only the receipt issuer may sign, write the log and put heads; readers read the table only.
 */
export class TransparencyLog extends Construct {
  readonly signingKey: kms.Key;
  readonly table: dynamodb.Table;
  readonly bucket: s3.Bucket;
  readonly accessLogs: s3.Bucket;
  readonly #dataKey: kms.IKey;

  constructor(scope: Construct, id: string, props: TransparencyLogProps) {
    super(scope, id);
    this.#dataKey = props.encryptionKey;

    this.signingKey = new kms.Key(this, 'ReceiptSigningKey', {
      description: `${SERVICE_NAME}: signs erasure receipts and transparency log tree heads (ES256)`,
      keySpec: kms.KeySpec.ECC_NIST_P256,
      keyUsage: kms.KeyUsage.SIGN_VERIFY,
      // Retained: the JWKS keeps its public key, and old receipts stay verifiable, after a new key replaces it.
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.table = new dynamodb.Table(this, 'Log', {
      partitionKey: { name: TRANSPARENCY_LOG_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: TRANSPARENCY_LOG_TABLE.ttlAttribute,
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.encryptionKey,
      resourcePolicy: new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({
            sid: 'TransparencyLogIsAppendOnly',
            effect: iam.Effect.DENY,
            principals: [new iam.AnyPrincipal()],
            actions: ['dynamodb:DeleteItem', 'dynamodb:BatchWriteItem', 'dynamodb:PartiQLDelete'],
            resources: ['*'],
          }),
        ],
      }),
    });

    this.accessLogs = new s3.Bucket(this, 'TreeHeadsAccessLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(props.retentionDays) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.bucket = new s3.Bucket(this, 'TreeHeads', {
      objectLockEnabled: true,
      objectLockDefaultRetention: s3.ObjectLockRetention.compliance(Duration.days(props.retentionDays)),
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'tree-heads/',
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  /**
   * The receipt issuer: signs with the key and reads and writes the log (no delete; an append reads its receipt, the
   * tree and the keys in one BatchGetItem). No write on the tree heads bucket: that is {@link grantPublish}'s alone.
   */
  grantIssue(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['kms:Sign', 'kms:GetPublicKey'], resources: [this.signingKey.keyArn] }),
    );
    this.#grantTable(
      grantee,
      ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
      true,
    );
  }

  /**
   * The tree head publisher: puts objects under `tree-heads/` of the Object Lock bucket (no read, no delete, no
   * retention change), and nothing else: no key, no table.
   */
  grantPublish(grantee: iam.IGrantable & { readonly role: iam.IRole }): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [this.bucket.arnForObjects('tree-heads/*')] }),
    );
    const bucketId = Stack.of(this).resolve((this.bucket.node.defaultChild as s3.CfnBucket).logicalId);
    Validations.of(grantee.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/tree-heads/*]`,
      reason:
        'Putting objects is allowed under tree-heads/ of the tree heads bucket only; the wildcard stands for the tree ' +
        'size each signed head is named by, which exists only at run time. Object Lock keeps every put object unchanged.',
    });
  }

  /** Readers of receipts, tree heads, proofs and keys. */
  grantRead(grantee: iam.IGrantable): void {
    this.#grantTable(grantee, ['dynamodb:GetItem'], false);
  }

  #grantTable(grantee: iam.IGrantable, actions: string[], writes: boolean): void {
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources: [this.table.tableArn] }));
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:DescribeKey', ...(writes ? ['kms:Encrypt', 'kms:GenerateDataKey'] : [])],
        resources: [this.#dataKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${Stack.of(this).region}.amazonaws.com` } },
      }),
    );
  }
}

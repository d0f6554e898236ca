import { Lazy, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { AUDIT_EVENTS_TABLE, projectionOf, REQUESTS_TABLE } from '#shared/adapters/dynamodb/tables';

/** Item writes that could change or remove an audit event once written: never allowed on the events table. */
export const EVENT_MUTATING_ACTIONS = [
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:PartiQLUpdate',
  'dynamodb:PartiQLDelete',
] as const;

/** Item writes that add an audit event: allowed on the events table to the roles granted appends, and to no one else. */
export const EVENT_APPENDING_ACTIONS = ['dynamodb:PutItem', 'dynamodb:PartiQLInsert'] as const;

/** A function that appends audit events; its role is named in the events table's policy. */
export interface EventWriter extends iam.IGrantable {
  readonly role: iam.IRole;
}

export interface AuditTablesProps {
  /** Encrypts both tables, their indexes and backups. */
  readonly encryptionKey: kms.IKey;
}

type RequestAction = 'GetItem' | 'BatchGetItem' | 'PutItem' | 'UpdateItem' | 'Query' | 'Scan';

/** The indexes that find a person's requests by pseudonym. */
export const PSEUDONYM_INDEXES: readonly string[] = [
  REQUESTS_TABLE.indexes.byEmailPseudonym.name,
  REQUESTS_TABLE.indexes.byExternalIdPseudonym.name,
];

/**
 * The two tables of the audit trail, keyed as `shared/adapters/dynamodb/tables.ts` describes them (the local runtime
 * creates the same in dynalite). Both are retained on stack deletion, protected from deletion, recoverable to any
 * second of the last 35 days, and expire items through TTL when the audit retention ends.
 *
 * Access is granted per action, never with `grantReadWriteData`/`grantWriteData`, whose UpdateItem/DeleteItem would
 * break the events table's append-only rule.
 */
export class AuditTables extends Construct {
  readonly requests: dynamodb.Table;
  readonly events: dynamodb.Table;
  readonly #key: kms.IKey;
  readonly #writers: iam.IRole[] = [];

  constructor(scope: Construct, id: string, props: AuditTablesProps) {
    super(scope, id);
    this.#key = props.encryptionKey;

    const common = {
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.encryptionKey,
    };

    this.requests = new dynamodb.Table(this, 'Requests', {
      ...common,
      partitionKey: { name: REQUESTS_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: REQUESTS_TABLE.ttlAttribute,
    });
    for (const index of Object.values(REQUESTS_TABLE.indexes)) {
      this.requests.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: dynamodb.AttributeType.STRING },
        sortKey: { name: index.sortKey, type: dynamodb.AttributeType.STRING },
        projectionType: dynamodb.ProjectionType.INCLUDE,
        nonKeyAttributes: [...projectionOf(index.name)],
      });
    }

    this.events = new dynamodb.Table(this, 'AuditEvents', {
      ...common,
      partitionKey: { name: AUDIT_EVENTS_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: AUDIT_EVENTS_TABLE.sortKey, type: dynamodb.AttributeType.NUMBER },
      timeToLiveAttribute: AUDIT_EVENTS_TABLE.ttlAttribute,
      // Append-only for everyone, administrators included, whatever their IAM policies say: an explicit deny in the
      // table's own policy wins over any allow. Expiry through TTL is done by DynamoDB itself and is not affected.
      resourcePolicy: new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({
            sid: 'AuditEventsAreAppendOnly',
            effect: iam.Effect.DENY,
            principals: [new iam.AnyPrincipal()],
            actions: [...EVENT_MUTATING_ACTIONS],
            // A table's policy cannot name the table's own ARN (a circular reference); `*` here means this table.
            resources: ['*'],
          }),
          // An unconditional PutItem replaces an existing item, and an administrator's IAM policy may allow it: only the
          // functions' roles may put, and only through code that never overwrites. The list is filled by
          // grantEventsAppend(), so a function granted appends can never be refused by this policy.
          new iam.PolicyStatement({
            sid: 'OnlyTheServiceAppendsAuditEvents',
            effect: iam.Effect.DENY,
            principals: [new iam.AnyPrincipal()],
            actions: [...EVENT_APPENDING_ACTIONS],
            resources: ['*'],
            conditions: {
              ArnNotEquals: {
                'aws:PrincipalArn': Lazy.list({ produce: () => this.#writers.map((role) => role.roleArn) }),
              },
            },
          }),
        ],
      }),
    });
  }

  /**
   * Allows actions on the requests table. `Query` is granted on the indexes named in `queryIndexes` (by default the two
   * pseudonym indexes), by name, never `index/*`.
   */
  grantRequests(
    grantee: iam.IGrantable,
    actions: readonly RequestAction[],
    queryIndexes: readonly string[] = PSEUDONYM_INDEXES,
  ): void {
    const tableActions = actions.filter((a) => a !== 'Query');
    if (tableActions.length > 0) {
      grantee.grantPrincipal.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: tableActions.map((a) => `dynamodb:${a}`),
          resources: [this.requests.tableArn],
        }),
      );
    }
    if (actions.includes('Query')) {
      grantee.grantPrincipal.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['dynamodb:Query'],
          resources: queryIndexes.map((name) => `${this.requests.tableArn}/index/${name}`),
        }),
      );
    }
    this.#grantKeyViaDynamoDb(
      grantee,
      actions.some((a) => a === 'PutItem' || a === 'UpdateItem'),
    );
  }

  /**
   * Allows reading a request's events and appending new ones: PutItem, GetItem and Query, nothing else; and adds the
   * writer's role to the roles the events table's policy lets put at all.
   *
   * IAM has no condition key that can require a `ConditionExpression`, so these roles could in principle overwrite an
   * event. Every put the code makes is conditional on `attribute_not_exists(seq)`; an overwrite would still break the
   * hash chain (each event carries the previous event's hash), so it is detectable, and point-in-time recovery can
   * restore the original. Updates and deletes are impossible: not granted here, and denied by the table's policy.
   */
  grantEventsAppend(grantee: EventWriter): void {
    if (!this.#writers.includes(grantee.role)) this.#writers.push(grantee.role);
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:Query'],
        resources: [this.events.tableArn],
      }),
    );
    this.#grantKeyViaDynamoDb(grantee, true);
  }

  /** Allows reading a request's events. */
  grantEventsRead(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:Query'],
        resources: [this.events.tableArn],
      }),
    );
    this.#grantKeyViaDynamoDb(grantee, false);
  }

  // DynamoDB uses the customer managed key on the caller's behalf, so the caller needs the key too, but only through
  // DynamoDB: the condition stops the role from decrypting anything with it directly. A reader gets what reading
  // needs (Decrypt, DescribeKey), never the encrypting half.
  #grantKeyViaDynamoDb(grantee: iam.IGrantable, writes: boolean): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:DescribeKey', ...(writes ? ['kms:Encrypt', 'kms:GenerateDataKey'] : [])],
        resources: [this.#key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${Stack.of(this).region}.amazonaws.com` } },
      }),
    );
  }
}

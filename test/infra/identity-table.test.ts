import { Validations } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SWEEPER_IDENTITY_ATTRIBUTES } from '#infra/constructs/identity-table';
import type { HandlerName } from '#infra/erasure-stack';
import { IDENTITIES_TABLE } from '#shared/adapters/dynamodb/tables';
import {
  asArray,
  handlerNames,
  handlerOf,
  identityStatements,
  logicalIdOf,
  removeSynthesized,
  type Synthesized,
  sharedSynthesis,
  statementsOf,
} from './synth.ts';

/**
 * The identities table in AWS: the one store of encrypted identities, with no backup that would keep a destroyed one
 * restorable, and each function granted only what it does with identities.
 */

let synth: Synthesized;
beforeAll(() => {
  synth = sharedSynthesis();
});
afterAll(removeSynthesized);

const identitiesTable = () => logicalIdOf(synth.stack.identities.table);
const tableResource = () => {
  const resource = synth.template.findResources('AWS::DynamoDB::Table')[identitiesTable()];
  if (!resource) throw new Error('no identities table in the template');
  return resource;
};
const mentions = (value: unknown, logicalId: string) => JSON.stringify(value).includes(`"${logicalId}"`);
const identityStatementsOf = (name: HandlerName) =>
  statementsOf(synth.template, logicalIdOf(handlerOf(synth.stack, name).role)).filter((s) =>
    mentions(s.Resource, identitiesTable()),
  );
const identityActionsOf = (name: HandlerName) =>
  identityStatementsOf(name)
    .flatMap((s) => asArray(s.Action))
    .sort();

describe('identities table', () => {
  it('has no point-in-time recovery, so a destroyed identity cannot be restored, and expires identities by TTL', () => {
    const { Properties } = tableResource();

    expect(Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: false });
    expect(Properties.TimeToLiveSpecification).toEqual({ AttributeName: IDENTITIES_TABLE.ttlAttribute, Enabled: true });
    expect(Properties.KeySchema).toEqual([{ AttributeName: IDENTITIES_TABLE.partitionKey, KeyType: 'HASH' }]);
  });

  it("acknowledges cdk-nag's point-in-time recovery finding on this table, saying why", () => {
    const acknowledged = synth.app.node.findAll().flatMap((construct) =>
      construct.node.metadata
        .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .flatMap((entry) => Object.entries(entry.data as Record<string, string>))
        .filter(([id]) => id.replace(/^annotation::/i, '') === 'AwsSolutions-DDB3')
        .map(([, reason]) => ({ path: construct.node.path, reason })),
    );

    const onIdentities = acknowledged.filter((a) => a.path === synth.stack.identities.table.node.path);
    expect(onIdentities).toHaveLength(1);
    expect(onIdentities[0]?.reason).toMatch(/backup would keep every destroyed identity recoverable/);
  });

  it('is retained, deletion-protected and encrypted with the customer managed data key of the other tables', () => {
    const resource = tableResource();
    const requests = synth.template.findResources('AWS::DynamoDB::Table')[logicalIdOf(synth.stack.tables.requests)];

    expect(resource.DeletionPolicy).toBe('Retain');
    expect(resource.Properties.DeletionProtectionEnabled).toBe(true);
    expect(resource.Properties.SSESpecification).toMatchObject({ SSEEnabled: true, SSEType: 'KMS' });
    expect(resource.Properties.SSESpecification.KMSMasterKeyId).toEqual(
      requests?.Properties.SSESpecification.KMSMasterKeyId,
    );
  });

  it('is the only table of request data without point-in-time recovery (the rate budgets hold no request data)', () => {
    const tables = synth.template.findResources('AWS::DynamoDB::Table');
    const withoutRecovery = Object.entries(tables)
      .filter(([, table]) => table.Properties.PointInTimeRecoverySpecification?.PointInTimeRecoveryEnabled !== true)
      .map(([id]) => id);

    expect(withoutRecovery.sort()).toEqual([identitiesTable(), logicalIdOf(synth.stack.rateBudgets.table)].sort());
  });

  it('tells every function where it is', () => {
    const functions = synth.template.findResources('AWS::Lambda::Function');
    for (const name of [
      'intake',
      'sender-intake',
      'request-tasks',
      'referralrock-tasks',
      'firstpromoter-tasks',
      'cancel-request',
    ] as const) {
      const fn = functions[logicalIdOf(handlerOf(synth.stack, name).function)];
      expect(fn?.Properties.Environment.Variables.IDENTITIES_TABLE, name).toEqual({ Ref: identitiesTable() });
    }
  });
});

describe('identities table permissions', () => {
  it('lets the intakes put, the provider steps read, and the functions that end a request delete, nothing more', () => {
    const expected: Record<HandlerName, string[]> = {
      intake: ['dynamodb:PutItem'],
      'sender-intake': ['dynamodb:PutItem'],
      // With their request item, in one BatchGetItem.
      'referralrock-tasks': ['dynamodb:BatchGetItem'],
      'firstpromoter-tasks': ['dynamodb:BatchGetItem'],
      'request-tasks': ['dynamodb:DeleteItem'],
      'cancel-request': ['dynamodb:DeleteItem'],
      'request-sweeper': ['dynamodb:DeleteItem', 'dynamodb:Scan'],
      'get-request': [],
      'subject-lookup': [],
      'extend-request': [],
      'suppression-check': [],
      evidence: [],
      'receipt-issuer': [],
      'tree-head-publisher': [],
      'list-requests': [],
      'callback-delivery': [],
      'api-document': [],
      console: [],
    };

    for (const name of handlerNames(synth.stack)) {
      expect(identityActionsOf(name), name).toEqual(expected[name]);
    }
  });

  it('lets the request sweeper scan request ids and write times only, never the ciphertext', () => {
    const scan = identityStatementsOf('request-sweeper').find((s) => asArray(s.Action).includes('dynamodb:Scan'));

    expect(scan?.Condition).toEqual({
      'ForAllValues:StringEquals': { 'dynamodb:Attributes': [...SWEEPER_IDENTITY_ATTRIBUTES] },
      StringEqualsIfExists: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
    });
    expect(SWEEPER_IDENTITY_ATTRIBUTES).not.toContain('identity');
  });

  it('is named by no wildcard grant', () => {
    const wildcards = identityStatements(synth.template).filter(
      ({ statement }) =>
        statement.Effect === 'Allow' &&
        asArray(statement.Action).some((a) => a.startsWith('dynamodb:') && a.includes('*')),
    );

    expect(wildcards).toEqual([]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HandlerName } from '#infra/erasure-stack';
import {
  asArray,
  grants,
  handlerNames,
  handlerOf,
  logicalIdOf,
  removeSynthesized,
  type Synthesized,
  sharedSynthesis,
  statementsOf,
} from './synth.ts';

/**
 * Receipts in AWS: a KMS ECC_NIST_P256 signing key, tree heads in a bucket under Object Lock compliance for the audit
 * retention, only the receipt issuer allowed to sign and write the log, and only the tree head publisher to put heads.
 */

let synth: Synthesized;
beforeAll(() => {
  synth = sharedSynthesis();
});
afterAll(removeSynthesized);

const statementsOfFunction = (name: HandlerName) =>
  statementsOf(synth.template, logicalIdOf(handlerOf(synth.stack, name).role));
const allows = (name: HandlerName, action: string) =>
  statementsOfFunction(name).some((s) => s.Effect === 'Allow' && asArray(s.Action).some((a) => grants(a, action)));

describe('receipts and the transparency log in AWS', () => {
  it('signs with an asymmetric P-256 KMS key that is kept when the stack goes', () => {
    synth.template.hasResource('AWS::KMS::Key', {
      Properties: { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' },
      DeletionPolicy: 'Retain',
    });
  });

  it('publishes tree heads to a bucket locked in compliance mode for the audit retention', () => {
    synth.template.hasResource('AWS::S3::Bucket', {
      Properties: {
        ObjectLockEnabled: true,
        ObjectLockConfiguration: {
          ObjectLockEnabled: 'Enabled',
          Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 3 * 365 + 1 } },
        },
        VersioningConfiguration: { Status: 'Enabled' },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
      },
      DeletionPolicy: 'Retain',
    });
  });

  it('lets only the receipt issuer sign and write the log, only the publisher put tree heads; the others may only run their state machine', () => {
    const enders: HandlerName[] = ['request-tasks', 'cancel-request', 'request-sweeper', 'firstpromoter-tasks'];
    for (const name of handlerNames(synth.stack)) {
      const issuer = name === 'receipt-issuer';
      expect(allows(name, 'kms:Sign'), name).toBe(issuer);
      expect(allows(name, 'kms:GetPublicKey'), name).toBe(issuer);
      expect(allows(name, 's3:PutObject'), name).toBe(name === 'tree-head-publisher');
      expect(allows(name, 's3:DeleteObject'), name).toBe(false);
      expect(allows(name, 's3:PutObjectRetention'), name).toBe(false);
      // Through the receipt state machine: no function invokes another.
      expect(allows(name, 'lambda:InvokeFunction'), name).toBe(false);
      expect(allows(name, 'states:StartSyncExecution'), name).toBe(enders.includes(name));
    }
    const logTable = logicalIdOf(synth.stack.transparencyLog.table);
    const onLog = (name: HandlerName) =>
      statementsOfFunction(name)
        .filter((s) => JSON.stringify(s.Resource).includes(`"${logTable}"`))
        .flatMap((s) => asArray(s.Action))
        .sort();
    expect(onLog('receipt-issuer')).toEqual([
      'dynamodb:BatchGetItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
    expect(onLog('evidence')).toEqual(['dynamodb:GetItem']);
    for (const name of handlerNames(synth.stack).filter((n) => n !== 'receipt-issuer' && n !== 'evidence')) {
      expect(onLog(name), name).toEqual([]);
    }
  });

  it('tells the functions that end requests which state machine issues receipts, and lets them run it alone', () => {
    const machine = logicalIdOf(synth.stack.receipts.stateMachine);
    for (const name of ['request-tasks', 'cancel-request', 'request-sweeper', 'firstpromoter-tasks'] as const) {
      const fn = synth.template.toJSON().Resources[logicalIdOf(handlerOf(synth.stack, name).function)];
      expect(fn.Properties.Environment.Variables.RECEIPT_STATE_MACHINE_ARN, name).toEqual({ Ref: machine });
      const syncStarts = statementsOfFunction(name).filter((s) =>
        asArray(s.Action).includes('states:StartSyncExecution'),
      );
      expect(
        syncStarts.flatMap((s) => asArray(s.Resource)),
        name,
      ).toEqual([{ Ref: machine }]);
    }
  });

  it('runs the receipt state machine (Express) from receipt.asl.json, invoking the issuer and the publisher alone', () => {
    const template = synth.template.toJSON();
    const machine = template.Resources[logicalIdOf(synth.stack.receipts.stateMachine)];
    const issuer = logicalIdOf(handlerOf(synth.stack, 'receipt-issuer').function);
    const publisher = logicalIdOf(handlerOf(synth.stack, 'tree-head-publisher').function);
    const invokes = statementsOf(synth.template, logicalIdOf(synth.stack.receipts.stateMachine.role)).filter((s) =>
      asArray(s.Action).includes('lambda:InvokeFunction'),
    );

    expect(machine.Properties.StateMachineType).toBe('EXPRESS');
    expect(machine.Properties.DefinitionSubstitutions).toEqual({
      ReceiptIssuerFunctionArn: { 'Fn::GetAtt': [issuer, 'Arn'] },
      TreeHeadPublisherFunctionArn: { 'Fn::GetAtt': [publisher, 'Arn'] },
    });
    expect(invokes.flatMap((s) => asArray(s.Resource))).toEqual([
      { 'Fn::GetAtt': [issuer, 'Arn'] },
      { 'Fn::GetAtt': [publisher, 'Arn'] },
    ]);
  });

  it('gives the tree head publisher the bucket alone: no key, no table, no secret', () => {
    const fn = synth.template.toJSON().Resources[logicalIdOf(handlerOf(synth.stack, 'tree-head-publisher').function)];
    const actions = statementsOfFunction('tree-head-publisher')
      .flatMap((s) => asArray(s.Action))
      .filter((a) => !/^(xray|logs):/.test(a));
    expect(actions).toEqual(['s3:PutObject']);
    const env = Object.keys(fn.Properties.Environment.Variables);
    expect(env).toContain('TREE_HEADS_BUCKET');
    expect(env.filter((v) => /TABLE|KMS|SECRET/.test(v))).toEqual([]);
    // And the issuer no longer knows the bucket.
    const issuer = synth.template.toJSON().Resources[logicalIdOf(handlerOf(synth.stack, 'receipt-issuer').function)];
    expect(Object.keys(issuer.Properties.Environment.Variables)).not.toContain('TREE_HEADS_BUCKET');
  });
});

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
  statementsOf,
  synthesize,
} from './synth.ts';

/**
 * Receipts in AWS: a KMS ECC_NIST_P256 signing key, tree heads in a bucket under Object Lock compliance for the audit
 * retention, and only the receipt issuer allowed to sign, write the log and put heads.
 */

let synth: Synthesized;
beforeAll(() => {
  synth = synthesize();
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

  it('lets only the receipt issuer sign, write the log and put tree heads; the others may only invoke it', () => {
    const enders: HandlerName[] = ['request-tasks', 'cancel-request', 'request-sweeper', 'firstpromoter-tasks'];
    for (const name of handlerNames(synth.stack)) {
      const issuer = name === 'receipt-issuer';
      expect(allows(name, 'kms:Sign'), name).toBe(issuer);
      expect(allows(name, 's3:PutObject'), name).toBe(issuer);
      expect(allows(name, 's3:DeleteObject'), name).toBe(false);
      expect(allows(name, 's3:PutObjectRetention'), name).toBe(false);
      expect(allows(name, 'lambda:InvokeFunction'), name).toBe(enders.includes(name));
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

  it('tells the functions that end requests which function issues receipts', () => {
    const issuer = logicalIdOf(handlerOf(synth.stack, 'receipt-issuer').function);
    for (const name of ['request-tasks', 'cancel-request', 'request-sweeper', 'firstpromoter-tasks'] as const) {
      const fn = synth.template.toJSON().Resources[logicalIdOf(handlerOf(synth.stack, name).function)];
      expect(fn.Properties.Environment.Variables.RECEIPT_ISSUER_FUNCTION, name).toEqual({ Ref: issuer });
    }
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, CfnResource, Stack } from 'aws-cdk-lib';
import { afterAll, describe, expect, it } from 'vitest';
import { CDK_JSON_CONTEXT, removeSynthesized, synthesize } from './synth.ts';

/**
 * CloudFormation's own template rules, as `cdk synth` applies them (cdk.json sets
 * `@aws-cdk/core:validateAgainstDefaultRules`, so a violation fails the synth). The other infra tests skip this
 * validation for speed; here it runs on the stack as deployed by default and with completion callbacks, the one
 * setting that adds resources.
 */
afterAll(removeSynthesized);

// The validator's WebAssembly start-up (3 s of CPU on an idle core) comes first: more than the default 30 s when the
// machine is shared with other test runs.
describe("CloudFormation's default validation rules", { timeout: 120_000 }, () => {
  it.each([
    ['by default', {}],
    ['with completion callbacks', { callbackUrls: 'https://hooks.example.com/erasures' }],
  ])('pass on the stack %s', (_name, overrides) => {
    expect(() => synthesize(overrides, { validate: true })).not.toThrow();
  });

  it('would fail a synth whose template breaks them, so a passing synth means something', () => {
    const outdir = mkdtempSync(path.join(tmpdir(), 'erasure-cdk-probe-'));
    const app = new App({ outdir, context: CDK_JSON_CONTEXT });
    const stack = new Stack(app, 'Probe');
    new CfnResource(stack, 'BrokenQueue', {
      type: 'AWS::SQS::Queue',
      properties: { VisibilityTimeout: 'soon', NoSuchProperty: true },
    });

    try {
      expect(() => app.synth()).toThrow(/VisibilityTimeout: 'soon' is not of type 'integer'/);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});

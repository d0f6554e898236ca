import { Stack, Validations } from 'aws-cdk-lib';
import * as sns from 'aws-cdk-lib/aws-sns';
import cdkNag from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { removeSynthesized, type Synthesized, sharedSynthesis, synthesize, testApp } from './synth.ts';

const { AwsSolutionsChecks } = cdkNag;

let synth: Synthesized;
beforeAll(() => {
  // `validateScope` only walks the tree and returns its report (it adds no annotation, unlike the NagPack applied as an
  // Aspect), so the stack every read-only infra file shares serves: one synth fewer (0.3-0.4 s of CPU).
  synth = sharedSynthesis();
});
afterAll(removeSynthesized);

/** Every acknowledgment recorded with `Validations.of(x).acknowledge()`, with the construct it sits on. */
function acknowledgments(root: IConstruct): { path: string; id: string; reason: string }[] {
  return root.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          path: construct.node.path,
          id: id.replace(/^annotation::/i, ''),
          reason,
        })),
      ),
  );
}

describe('cdk-nag AWS Solutions checks', () => {
  it('find no unacknowledged error or warning in the stack', () => {
    const report = new AwsSolutionsChecks().validateScope(synth.app);

    const findings = report.violations.map((v) => ({
      rule: v.ruleName,
      severity: v.severity,
      resources: v.violatingResources.map((r) => r.constructPath),
    }));
    expect(findings).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('acknowledge each finding with a reason that says why, on the construct that causes it', () => {
    const found = acknowledgments(synth.app);

    expect(found.map((a) => a.id)).toEqual(
      expect.arrayContaining([
        'AwsSolutions-L1',
        'AwsSolutions-IAM5[Resource::*]',
        'AwsSolutions-APIG4',
        'AwsSolutions-SF1',
        'AwsSolutions-SMG4',
      ]),
    );
    for (const { path, id, reason } of found) {
      expect(path, id).not.toBe('Test');
      expect(reason.length, `${path} ${id}`).toBeGreaterThan(80);
    }
  });

  it('acknowledge nothing that would not otherwise be reported', () => {
    const acknowledged = new Set(acknowledgments(synth.app).map((a) => a.id));
    const ignore = vi.spyOn(Validations.prototype, 'acknowledge').mockImplementation(() => undefined);
    let reported: string[];
    try {
      reported = new AwsSolutionsChecks().validateScope(synthesize().app).violations.map((v) => v.ruleName);
    } finally {
      ignore.mockRestore();
    }

    expect(reported.sort()).toEqual([...acknowledged].sort());
  });

  it('would report a violation, so a clean report means something', () => {
    const app = testApp();
    const stack = new Stack(app, 'Probe');
    new sns.Topic(stack, 'PlainTopic');

    const report = new AwsSolutionsChecks().validateScope(app);

    expect(report.violations.map((v) => v.ruleName)).toContain('AwsSolutions-SNS3');
  });
});

import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { removeSynthesized, sharedSynthesis, testApp } from './synth.ts';

describe('the infra tests’ shared synth', () => {
  it('is built once per process and leaves no directory behind (vitest ends its workers without exit handlers)', () => {
    const first = sharedSynthesis();

    expect(sharedSynthesis()).toBe(first);
    expect(existsSync(first.app.outdir)).toBe(false);
    expect(Object.keys(first.template.toJSON().Resources ?? {}).length).toBeGreaterThan(0);
  });

  it('gives an App a test builds itself a directory that removeSynthesized removes (not a cdk.out* left in tmp)', () => {
    const app = testApp({ context: { waitingPeriodSeconds: '60' } });
    const written = existsSync(app.outdir);

    removeSynthesized();

    expect(written).toBe(true);
    expect(app.outdir.startsWith(tmpdir())).toBe(true);
    expect(app.node.tryGetContext('waitingPeriodSeconds')).toBe('60');
    expect(existsSync(app.outdir)).toBe(false);
  });
});

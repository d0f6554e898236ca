import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { sharedSynthesis } from './synth.ts';

describe('the infra tests’ shared synth', () => {
  it('is built once per process and leaves no directory behind (vitest ends its workers without exit handlers)', () => {
    const first = sharedSynthesis();

    expect(sharedSynthesis()).toBe(first);
    expect(existsSync(first.app.outdir)).toBe(false);
    expect(Object.keys(first.template.toJSON().Resources ?? {}).length).toBeGreaterThan(0);
  });
});

import { describe, expect, it } from 'vitest';
import * as firstPromoter from '#shared/adapters/firstpromoter/schemas';
import * as referralRock from '#shared/adapters/referralrock/schemas';
import { onFirstUse } from '#shared/on-first-use';

describe('onFirstUse', () => {
  it('builds nothing until the first use, then once, and returns that value to every later use', () => {
    let builds = 0;
    const value = onFirstUse(() => ({ built: ++builds }));
    expect(builds).toBe(0);

    const first = value();
    expect(builds).toBe(1);
    expect(value()).toBe(first);
    expect(builds).toBe(1);
  });

  it('keeps a built value that is undefined or null rather than building again', () => {
    let builds = 0;
    const nothing = onFirstUse(() => {
      builds++;
      return undefined;
    });
    nothing();
    nothing();
    expect(builds).toBe(1);
  });
});

describe('provider response schemas', () => {
  it('are built at their first use, each once, so a cold start builds none and a task only those it parses with', () => {
    for (const [name, schema] of Object.entries({ ...referralRock, ...firstPromoter })) {
      expect(typeof schema, name).toBe('function');
      const built = (schema as () => { safeParse: unknown })();
      expect(typeof built.safeParse, name).toBe('function');
      expect((schema as () => unknown)(), name).toBe(built);
    }
  });
});

import { describe, expect, it } from 'vitest';
import { measureRoundTrips } from '#bench/round-trips';

/**
 * Round trips per erasure, as `npm run bench` reports them: a ceiling each, set from the measured result, so a change
 * that adds a DynamoDB read or write to every erasure, or a provider call, fails here rather than in production bills.
 * Rate-budget token takes (one per provider call) are counted apart and not limited here.
 */
// 41 / 52 before the chain head moved onto the request item (an append read the whole trail first).
const DYNAMODB_CEILING = { nobody: 30, jane: 39 };

describe('round trips per erasure', () => {
  it('stays within its DynamoDB and provider call ceilings for the demo subjects', async () => {
    const [nobody, jane] = await measureRoundTrips();

    expect(nobody).toMatchObject({ subject: 'nobody', status: 'completed', chainValid: true });
    expect(jane).toMatchObject({ subject: 'jane', status: 'completed', chainValid: true });
    // The receipt of each was issued into the transparency log (counted apart: its reads grow with the tree).
    expect(nobody?.dynamoDb.transparencyLog).toBeGreaterThan(0);
    expect(jane?.dynamoDb.transparencyLog).toBeGreaterThan(0);
    // Each trail has 9 (nobody) or 10 (jane) events, each written with the request item's change it records (one
    // TransactWriteItems), linked to the head the task's one read of the request item found.
    expect(nobody?.dynamoDb.calls, JSON.stringify(nobody?.dynamoDb.byCommand)).toBeLessThanOrEqual(
      DYNAMODB_CEILING.nobody,
    );
    expect(jane?.dynamoDb.calls, JSON.stringify(jane?.dynamoDb.byCommand)).toBeLessThanOrEqual(DYNAMODB_CEILING.jane);
    // Above the minimum only by FirstPromoter's second promoter search (archived ones), in each search and read-back.
    const extraPromoterSearches = (r: typeof nobody) => (r?.provider.byRoute['GET /promoters'] ?? 0) / 2;
    expect(extraPromoterSearches(nobody)).toBe(1);
    expect(extraPromoterSearches(jane)).toBe(2);
    for (const r of [nobody, jane]) {
      expect(r?.provider.calls, JSON.stringify(r?.provider.byRoute)).toBe(
        (r?.provider.minimum ?? 0) + extraPromoterSearches(r),
      );
    }
  });
});

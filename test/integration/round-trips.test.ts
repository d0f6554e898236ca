import { describe, expect, it } from 'vitest';
import { measureRoundTrips } from '#bench/round-trips';

/**
 * Round trips per erasure, as `npm run bench` reports them: a ceiling each, set from the measured result, so a change
 * that adds a DynamoDB read or write to every erasure, or a provider call, fails here rather than in production bills.
 * Rate-budget token takes (one per provider call) are counted apart and not limited here.
 */
// 39 / 50 when set; +2 each since the receipt issuer reads the request and its trail once when a request ends.
const DYNAMODB_CEILING = { nobody: 41, jane: 52 };

describe('round trips per erasure', () => {
  it('stays within its DynamoDB and provider call ceilings for the demo subjects', async () => {
    const [nobody, jane] = await measureRoundTrips();

    expect(nobody).toMatchObject({ subject: 'nobody', status: 'completed', chainValid: true });
    expect(jane).toMatchObject({ subject: 'jane', status: 'completed', chainValid: true });
    // The receipt of each was issued into the transparency log (counted apart: its reads grow with the tree).
    expect(nobody?.dynamoDb.transparencyLog).toBeGreaterThan(0);
    expect(jane?.dynamoDb.transparencyLog).toBeGreaterThan(0);
    // Each trail has 9 (nobody) or 10 (jane) events: one conditional put each, a read of the chain in each task that
    // appends, one write per status change and outcome, the identity's put, reads and delete.
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

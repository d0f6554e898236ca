import { describe, expect, it } from 'vitest';
import { measureRoundTrips } from '#bench/round-trips';

/**
 * Round trips per erasure, as `npm run bench` reports them: a ceiling each, set from the measured result, so a change
 * that adds a DynamoDB read or write to every erasure, or a provider call, fails here rather than in production bills.
 * The receipt's transparency-log calls count in (they are also reported apart); the rate-budget token takes (one per
 * provider call) do not. So do writes refused because a head moved: the parallel branches append to lanes of their
 * own (`CHAIN_LANES`), so they never refuse each other's writes, and the ceiling holds in every run, not on a lucky one.
 */
// Before the chain head moved onto the request item: 41 / 52, plus 30 / 29 for the receipt's log append. Before the
// lanes: 18 / 24, plus 2 to 4 writes lost to the other branches (in AWS too, where the branches run at once). Before
// the workflow's first steps wrote on the chain head carried in its state: 18 / 24.
const DYNAMODB_CEILING = { nobody: 16, jane: 22 };

describe('round trips per erasure', () => {
  it('stays within its DynamoDB and provider call ceilings for the demo subjects', async () => {
    const [nobody, jane] = await measureRoundTrips();

    expect(nobody).toMatchObject({ subject: 'nobody', status: 'completed', chainValid: true });
    expect(jane).toMatchObject({ subject: 'jane', status: 'completed', chainValid: true });
    for (const r of [nobody, jane]) {
      const subject = r?.subject ?? 'nobody';
      const breakdown = JSON.stringify(r?.dynamoDb.byTask);
      // The receipt goes into the transparency log with one read and one write, whatever the size of the tree.
      expect(r?.dynamoDb.transparencyLog, breakdown).toBe(2);
      expect(r?.dynamoDb.lostRaces, breakdown).toBe(0);
      expect(r?.dynamoDb.calls, breakdown).toBeLessThanOrEqual(DYNAMODB_CEILING[subject]);
      expect(r?.provider.calls, JSON.stringify(r?.provider.byRoute)).toBe(r?.provider.minimum);
    }
  });
});

import { describe, expect, it } from 'vitest';
import { measureRoundTrips } from '#bench/round-trips';

/**
 * Round trips per erasure, as `npm run bench` reports them: a ceiling each, set from the measured result, so a change
 * that adds a DynamoDB read or write to every erasure, or a provider call, fails here rather than in production bills.
 * The receipt's transparency-log calls count in (they are also reported apart); the rate-budget token takes (one per
 * provider call) do not.
 */
// Before the chain head moved onto the request item: 41 / 52, plus 30 / 29 for the receipt's log append.
const DYNAMODB_CEILING = { nobody: 29, jane: 38 };

describe('round trips per erasure', () => {
  it('stays within its DynamoDB and provider call ceilings for the demo subjects', async () => {
    const [nobody, jane] = await measureRoundTrips();

    expect(nobody).toMatchObject({ subject: 'nobody', status: 'completed', chainValid: true });
    expect(jane).toMatchObject({ subject: 'jane', status: 'completed', chainValid: true });
    for (const r of [nobody, jane]) {
      // The receipt goes into the transparency log with one read and one write, and its head is marked published,
      // whatever the size of the tree.
      expect(r?.dynamoDb.transparencyLog, JSON.stringify(r?.dynamoDb.byTask)).toBe(3);
      expect(r?.dynamoDb.calls, JSON.stringify(r?.dynamoDb.byTask)).toBeLessThanOrEqual(
        DYNAMODB_CEILING[r?.subject ?? 'nobody'],
      );
      expect(r?.provider.calls, JSON.stringify(r?.provider.byRoute)).toBe(r?.provider.minimum);
    }
  });
});

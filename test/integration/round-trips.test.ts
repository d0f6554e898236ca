import { describe, expect, it } from 'vitest';
import { measureRoundTrips } from '#bench/round-trips';

/**
 * Round trips per erasure, as `npm run bench` reports them: a ceiling each, set from the measured result, so a change
 * that adds a DynamoDB read or write to every erasure, or a provider call, fails here rather than in production bills.
 * The receipt's transparency-log calls count in (they are also reported apart); the rate-budget token takes (one per
 * provider call) do not. Writes that lost a race between the parallel branches (the chain head moved since the
 * writer read it) are bounded apart: how many there are depends on timing.
 */
// Before the chain head moved onto the request item: 41 / 52, plus 30 / 29 for the receipt's log append.
const DYNAMODB_CEILING = { nobody: 18, jane: 24 };
/**
 * The chain writes made in the parallel branches (nobody: the three not-found outcomes; jane: two outcomes, the batch's
 * pending record and its end), each of which can lose at most once to each of the others.
 */
const RACING_WRITES = { nobody: 3, jane: 4 };
const mostLostRaces = (writes: number) => (writes * (writes - 1)) / 2;

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
      expect((r?.dynamoDb.calls ?? 0) - (r?.dynamoDb.lostRaces ?? 0), breakdown).toBeLessThanOrEqual(
        DYNAMODB_CEILING[subject],
      );
      expect(r?.dynamoDb.lostRaces, breakdown).toBeLessThanOrEqual(mostLostRaces(RACING_WRITES[subject]));
      expect(r?.provider.calls, JSON.stringify(r?.provider.byRoute)).toBe(r?.provider.minimum);
    }
  });
});

import { DEMO_SUBJECTS, seedFirstPromoter, seedReferralRock } from '#test/simulators/demo-data';
import { startTestRuntime } from '#test/support/local-runtime';

/**
 * What one erasure costs in round trips, counted on the local runtime (the same handlers and ASL as in AWS, so the
 * same calls): DynamoDB commands, apart from the rate-budget token takes (one per provider call) and the receipt's
 * transparency-log writes and reads (issue 9, after this measure's baseline; their count grows with log2 of the tree
 * size), both reported separately; and provider calls, against the fewest the erasure needs.
 */
export interface RoundTrips {
  subject: 'nobody' | 'jane';
  status: string;
  chainValid: boolean;
  dynamoDb: { calls: number; rateBudgetTakes: number; transparencyLog: number; byCommand: Record<string, number> };
  provider: { calls: number; minimum: number; byRoute: Record<string, number> };
}

/**
 * The fewest provider calls each demo subject's erasure needs: one search per identifier form per kind of record
 * (Referral Rock members and referrals, FirstPromoter promoters and referrals: 4), each act (jane: 4), one read-back per
 * action that acted (jane: 4, the archive included), and the polls her 7-referral batch needs (the test simulator
 * finishes a batch on its 2nd poll).
 */
export const MINIMUM_PROVIDER_CALLS = { nobody: 4, jane: 4 + 4 + 4 + 2 } as const;

/** Erases the demo subjects `nobody` (found nowhere) and `jane` (everywhere, an asynchronous batch), one at a time. */
export async function measureRoundTrips(): Promise<RoundTrips[]> {
  const commands: { name: string; table: string | undefined }[] = [];
  const t = await startTestRuntime({ observeDynamoDb: (command) => commands.push(command) });
  try {
    seedReferralRock(t.referralRock);
    seedFirstPromoter(t.firstPromoter);
    const rateBudgets = t.runtime.config.tables.rateBudgets;
    const transparencyLog = t.runtime.config.tables.transparencyLog;
    const rows: RoundTrips[] = [];
    for (const subject of ['nobody', 'jane'] as const) {
      commands.length = 0;
      t.referralRock.harness.clearRequests();
      t.firstPromoter.harness.clearRequests();
      const submitted = await t.submit(DEMO_SUBJECTS[subject]);
      if (submitted.status !== 202) throw new Error(`submit answered ${submitted.status}`);
      await t.runtime.workflow.idle();
      const counted = [...commands];
      const providerRequests = [...t.referralRock.harness.requests, ...t.firstPromoter.harness.requests];
      const view = (await t.get(submitted.json.id)).json;
      const calls = counted.filter((c) => c.table !== rateBudgets && c.table !== transparencyLog);
      rows.push({
        subject,
        status: view.status,
        chainValid: view.integrity?.chainValid === true,
        dynamoDb: {
          calls: calls.length,
          rateBudgetTakes: counted.filter((c) => c.table === rateBudgets).length,
          transparencyLog: counted.filter((c) => c.table === transparencyLog).length,
          byCommand: tally(calls.map((c) => `${c.name.replace(/Command$/, '')} ${c.table}`)),
        },
        provider: {
          calls: providerRequests.length,
          minimum: MINIMUM_PROVIDER_CALLS[subject],
          byRoute: tally(providerRequests.map((r) => r.route)),
        },
      });
    }
    return rows;
  } finally {
    await t.stop();
  }
}

function tally(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

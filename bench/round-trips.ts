import { DEMO_SUBJECTS, seedFirstPromoter, seedReferralRock } from '#test/simulators/demo-data';
import { startTestRuntime } from '#test/support/local-runtime';

/**
 * What one erasure costs in round trips, counted on the local runtime (the same handlers and ASL as in AWS, so the
 * same calls): DynamoDB commands, the receipt's transparency-log writes and reads included, apart from the rate-budget
 * token takes (one per provider call, reported separately); broken down by the task (or function) that made them and
 * by command. And provider calls, against the fewest the erasure needs.
 */
export interface RoundTrips {
  subject: 'nobody' | 'jane';
  status: string;
  chainValid: boolean;
  dynamoDb: {
    /** Every command but the rate-budget takes: the transparency log's are included (and also counted apart). */
    calls: number;
    rateBudgetTakes: number;
    /** Of `calls`, those on the transparency log's table (the receipt's leaf, tree head and proof). */
    transparencyLog: number;
    /**
     * Of `calls`, the transactions refused (a head moved since the writer read it: retried once the item it got back
     * says where the head is). The parallel branches append to lanes of their own, so none is expected.
     */
    lostRaces: number;
    /** `<command> <table(s)>` → count. */
    byCommand: Record<string, number>;
    /** The task (or function) that made them → `<command> <table(s)>` → count. */
    byTask: Record<string, Record<string, number>>;
  };
  provider: { calls: number; minimum: number; byRoute: Record<string, number> };
}

/**
 * The fewest provider calls each demo subject's erasure needs: one search per identifier form per kind of record
 * (Referral Rock members and referrals, FirstPromoter referrals: 1 each; FirstPromoter promoters: 2, see below), each
 * act (jane: 4), one read-back per action that acted (jane: 4, the archive's included), and the polls her 7-referral
 * batch needs (the test simulator finishes a batch on its 2nd poll).
 *
 * Why two promoter searches: the archive step must find the subject's archived promoters as well as the active ones
 * (to tell "archived before this request" from "not found", and to hold a promoter another request of the person
 * archived), and FirstPromoter documents `filters[archived]` only as `true` or `false`, with no value for both and no
 * statement of what the list holds without it. So both are asked for. A read-back needs only the active ones (what
 * is still not archived): one search.
 */
export const MINIMUM_PROVIDER_CALLS = { nobody: 3 + 2, jane: 3 + 2 + 4 + 4 + 2 } as const;

/** Erases the demo subjects `nobody` (found nowhere) and `jane` (everywhere, an asynchronous batch), one at a time. */
export async function measureRoundTrips(): Promise<RoundTrips[]> {
  const commands: { name: string; table: string | undefined; invocation?: string; failed?: string }[] = [];
  // The test runtime's rate ceilings, raised out of the way: the parallel branches run as close together as they can,
  // and still never refuse each other's writes (each appends to its own lane of the trail).
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
      const calls = counted.filter((c) => c.table !== rateBudgets);
      const label = (c: (typeof calls)[number]) => `${c.name.replace(/Command$/, '')} ${c.table}`;
      const byTask: Record<string, Record<string, number>> = {};
      for (const c of calls) {
        const task = c.invocation ?? 'other';
        byTask[task] = tally([label(c)], byTask[task]);
      }
      rows.push({
        subject,
        status: view.status,
        chainValid: view.integrity?.chainValid === true,
        dynamoDb: {
          calls: calls.length,
          rateBudgetTakes: counted.length - calls.length,
          transparencyLog: calls.filter((c) => c.table?.split('+').includes(transparencyLog)).length,
          lostRaces: calls.filter((c) => c.failed === 'TransactionCanceledException').length,
          byCommand: tally(calls.map(label)),
          byTask,
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

function tally(values: string[], into: Record<string, number> = {}): Record<string, number> {
  for (const value of values) into[value] = (into[value] ?? 0) + 1;
  return into;
}

import { afterEach, describe, expect, it } from 'vitest';
import { FirstPromoterSimulator } from '#test/simulators/firstpromoter';
import { ReferralRockSimulator } from '#test/simulators/referralrock';
import { startTestRuntime, type TestRuntime } from '#test/support/local-runtime';

/**
 * The whole service against providers that compare emails exactly as they hold them: a request ends `completed` only
 * when the subject's records are really gone, whichever form of the address the providers hold.
 */

let t: TestRuntime | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

async function startCaseSensitive(): Promise<TestRuntime> {
  return startTestRuntime({
    referralRock: new ReferralRockSimulator({ emailCase: 'sensitive' }),
    firstPromoter: new FirstPromoterSimulator({ emailCase: 'sensitive', batch: { pollsToComplete: 2 } }),
  });
}

/** Seeds the subject, held as `held` everywhere, beside a friend she referred and look-alike addresses. */
function seed(rt: TestRuntime, held: string) {
  const spring = rt.referralRock.addProgram({ name: 'Spring' });
  const partners = rt.referralRock.addProgram({ name: 'Partners' });
  const member = rt.referralRock.addMember({ email: held, programId: spring.id });
  rt.referralRock.addMember({ email: held, programId: partners.id });
  rt.referralRock.addReferral({ email: held, programId: partners.id });
  const friend = rt.referralRock.addReferral({ email: 'sam@example.com', referringMemberId: member.id });
  const lookalikeMember = rt.referralRock.addMember({ email: `x${held}`, programId: spring.id });
  for (let i = 0; i < 2; i++) rt.firstPromoter.addReferral({ email: held, uid: `j-${i}` });
  const lookalikeReferral = rt.firstPromoter.addReferral({ email: `${held}.evil` });
  const promoter = rt.firstPromoter.addPromoter({ email: held, name: 'Jane' });
  const lookalikePromoter = rt.firstPromoter.addPromoter({ email: `x${held}`, name: 'Not Jane' });
  return { friend, lookalikeMember, lookalikeReferral, promoter, lookalikePromoter };
}

function expectOnlyOthersRemain(rt: TestRuntime, seeded: ReturnType<typeof seed>) {
  expect(rt.referralRock.members().map((m) => m.id)).toEqual([seeded.lookalikeMember.id]);
  expect(rt.referralRock.referrals().map((r) => r.id)).toEqual([seeded.friend.id]);
  expect(rt.firstPromoter.referrals().map((r) => r.id)).toEqual([seeded.lookalikeReferral.id]);
  const promoters = rt.firstPromoter.promoters();
  expect(promoters.find((p) => p.id === seeded.promoter.id)?.archived_at).not.toBeNull();
  expect(promoters.find((p) => p.id === seeded.lookalikePromoter.id)?.archived_at).toBeNull();
}

const outcomes = (view: any) =>
  Object.fromEntries(view.actions.map((a: any) => [`${a.provider}.${a.action}`, [a.outcome, a.count]]));

describe('erasure at providers comparing emails case-sensitively', () => {
  it.each([
    ['Jane.Doe@Example.com', 'Jane.Doe@Example.com'],
    ['jane@bücher.example', 'jane@xn--bcher-kva.example'],
    ['jane@xn--bcher-kva.example', 'jane@bücher.example'],
  ])('asked as %s, erases everything held as %s and ends completed', async (asked, held) => {
    t = await startCaseSensitive();
    const seeded = seed(t, held);

    const view = await t.erase({ email: asked });

    expect(view.status).toBe('completed');
    expect(outcomes(view)).toEqual({
      'firstpromoter.archive_promoters': ['archived', 1],
      'referralrock.delete_members': ['deleted', 2],
      'referralrock.delete_referrals': ['deleted', 1],
      'firstpromoter.delete_referrals': ['deleted', 2],
    });
    expectOnlyOthersRemain(t, seeded);
  });
});

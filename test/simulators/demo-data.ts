import type { FirstPromoterSimulator } from './firstpromoter.ts';
import type { ReferralRockSimulator } from './referralrock.ts';

/**
 * Demo subjects for `npm start` and `npm run simulate` (fictitious people on example.com):
 * - jane@example.com — Referral Rock member in two programs, one referral of her own and two friends she referred
 *   (theirs, never erased with her); seven FirstPromoter referrals (more than 5: an asynchronous batch) and a promoter.
 * - externalId `crm-1001` (john@example.com) — found by external id alone: a member, a referral and two FirstPromoter
 *   referrals (a synchronous delete) and a promoter whose cust_id is the external id.
 * - nobody@example.com — nowhere: "not found" everywhere is a successful outcome.
 */
export const DEMO_SUBJECTS = {
  jane: { email: 'jane@example.com' },
  john: { externalId: 'crm-1001' },
  nobody: { email: 'nobody@example.com' },
} as const;

export function seedReferralRock(sim: ReferralRockSimulator): void {
  const spring = sim.addProgram({ name: 'Spring Referrals', title: 'Spring 2026' });
  const partners = sim.addProgram({ name: 'Partner Program', title: 'Partners' });
  const jane1 = sim.addMember({ email: 'jane@example.com', firstName: 'Jane', lastName: 'Doe', programId: spring.id });
  sim.addMember({ email: 'Jane@Example.com', firstName: 'Jane', lastName: 'Doe', programId: partners.id });
  const john = sim.addMember({
    email: 'john@example.com',
    externalIdentifier: 'crm-1001',
    firstName: 'John',
    programId: spring.id,
  });
  sim.addMember({ email: 'alex@example.com', firstName: 'Alex', programId: spring.id });
  sim.addReferral({ email: 'jane@example.com', firstName: 'Jane', programId: partners.id });
  for (const friend of ['sam@example.com', 'lee@example.com']) {
    sim.addReferral({
      email: friend,
      programId: spring.id,
      referringMemberId: jane1.id,
      memberEmail: 'jane@example.com',
      referringMemberName: 'Jane Doe',
    });
  }
  sim.addReferral({ email: 'john.doe@example.org', externalIdentifier: 'crm-1001', programId: spring.id });
  sim.addReferral({ email: 'kim@example.com', programId: spring.id, referringMemberId: john.id });
}

export function seedFirstPromoter(sim: FirstPromoterSimulator): void {
  for (let i = 0; i < 7; i++) sim.addReferral({ email: 'jane@example.com', uid: `jane-signup-${i + 1}` });
  sim.addReferral({ email: 'xjane@example.com', uid: 'someone-else' });
  sim.addReferral({ email: 'john@example.com', uid: 'crm-1001' });
  sim.addReferral({ email: 'john.work@example.org', uid: 'crm-1001' });
  sim.addPromoter({ email: 'jane@example.com', name: 'Jane Doe' });
  sim.addPromoter({ email: 'john@example.com', name: 'John Roe', cust_id: 'crm-1001' });
  sim.addPromoter({ email: 'alex@example.com', name: 'Alex Poe' });
}

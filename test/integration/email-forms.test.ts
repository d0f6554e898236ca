import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createFirstPromoterClient } from '#shared/adapters/firstpromoter/client';
import { createReferralRockClient } from '#shared/adapters/referralrock/client';
import { emailSearchForms } from '#shared/domain/search-forms';
import { FirstPromoterSimulator } from '#test/simulators/firstpromoter';
import { ReferralRockSimulator } from '#test/simulators/referralrock';

/**
 * Both provider clients against simulators that compare emails case-sensitively and hold each address exactly as it was
 * given to them: the subject must be found whatever form the provider holds, and nobody else must be.
 */

const rr = new ReferralRockSimulator({ emailCase: 'sensitive' });
let fp: FirstPromoterSimulator;
const noSleep = { sleep: async () => {}, random: () => 0.5 };
let referralRock: ReturnType<typeof createReferralRockClient>;
let firstPromoter: ReturnType<typeof createFirstPromoterClient>;

beforeAll(async () => {
  const baseUrl = await rr.start(0);
  referralRock = createReferralRockClient({ baseUrl, publicKey: 'demo-public', privateKey: 'demo-private' }, noSleep);
});

afterAll(() => rr.stop());

beforeEach(async () => {
  rr.reset();
  // A search that returns near-misses too, so the client's own exact-match filter is what leaves them out.
  rr.setSearchMatch('contains');
  fp = new FirstPromoterSimulator({ emailCase: 'sensitive' });
  const baseUrl = await fp.start(0);
  firstPromoter = createFirstPromoterClient({ baseUrl, apiKey: 'demo-api-key', accountId: 'demo-account' }, noSleep);
});

afterEach(() => fp.stop());

/** [as the subject asked, as the provider holds it] */
const forms: [string, string][] = [
  ['Jane.Doe@Example.com', 'Jane.Doe@Example.com'],
  ['Jane.Doe@Example.com', 'jane.doe@example.com'],
  ['Jane.Doe@Example.com', 'Jane.Doe@example.com'],
  ['jane.doe@example.com', 'jane.doe@example.com'],
  ['jane@bücher.example', 'jane@xn--bcher-kva.example'],
  ['jane@xn--bcher-kva.example', 'jane@bücher.example'],
  ['Jane@Bücher.example', 'Jane@xn--bcher-kva.example'],
];

/** Addresses that contain the subject's, or nearly: a substring search returns them, erasure must not. */
const nearMisses = (held: string) => [`x${held}`, `${held}.evil`, held.replace('@', '+x@')];

describe('Referral Rock at a provider comparing emails case-sensitively', () => {
  it.each(forms)('asked as %s, finds and erases every member and own referral held as %s', async (asked, held) => {
    const programs = ['Spring', 'Partners'].map((name) => rr.addProgram({ name }));
    const members = programs.map((p) => rr.addMember({ email: held, programId: p.id }));
    const others = nearMisses(held).map((email) => rr.addMember({ email, programId: programs[0]?.id }));
    const referrer = rr.addMember({ email: 'carol@example.com', programId: programs[1]?.id });
    const own = rr.addReferral({ email: held, referringMemberId: referrer.id });
    // The friend Jane referred: a search for Jane's address returns it through `memberEmail`; it is not hers.
    const friend = rr.addReferral({ email: 'sam@example.com', referringMemberId: members[0]?.id });
    const lookalikes = nearMisses(held).map((email) => rr.addReferral({ email }));

    const foundMembers = await referralRock.findMembers({ email: asked });
    const foundReferrals = await referralRock.findReferrals({ email: asked });
    await referralRock.removeMembers(foundMembers.map((m) => m.id));
    await referralRock.removeReferrals(foundReferrals.map((r) => r.id));

    expect(foundMembers.map((m) => m.id).sort()).toEqual(members.map((m) => m.id).sort());
    expect(foundReferrals.map((r) => r.id)).toEqual([own.id]);
    expect(friend.memberEmail).toBe(held);
    expect(rr.members().map((m) => m.id)).toEqual([...others, referrer].map((m) => m.id));
    expect(rr.referrals().map((r) => r.id)).toEqual([friend, ...lookalikes].map((r) => r.id));
    // One search per distinct form and kind of record, no more.
    const searched = (route: string) => rr.harness.requestsTo(route).map((r) => r.query.get('query'));
    expect(searched('GET /api/members')).toEqual(emailSearchForms(asked));
    expect(searched('GET /api/referrals')).toEqual(emailSearchForms(asked));
  });
});

describe('FirstPromoter at a provider comparing emails case-sensitively', () => {
  it.each(forms)('asked as %s, finds and erases every referral and promoter held as %s', async (asked, held) => {
    const referrals = [fp.addReferral({ email: held }), fp.addReferral({ email: held, uid: 'crm-9' })];
    const lookalikes = nearMisses(held).map((email) => fp.addReferral({ email }));
    const active = fp.addPromoter({ email: held });
    const archived = fp.addPromoter({ email: held, archived_at: '2024-01-02T03:04:05Z' });
    const otherPromoters = nearMisses(held).map((email) => fp.addPromoter({ email }));
    fp.harness.clearRequests();

    const foundReferrals = await firstPromoter.findReferrals({ email: asked });
    const foundPromoters = await firstPromoter.findPromoters({ email: asked });
    await firstPromoter.deleteReferrals(foundReferrals.map((r) => r.id));
    await firstPromoter.archivePromoters(foundPromoters.map((p) => p.id));

    expect(foundReferrals.map((r) => r.id).sort()).toEqual(referrals.map((r) => r.id).sort());
    expect(foundPromoters.map((p) => p.id).sort()).toEqual([active.id, archived.id].sort());
    const remaining = fp.referrals().map((r) => r.id);
    expect(remaining).toEqual(expect.arrayContaining(lookalikes.map((r) => r.id)));
    for (const referral of referrals) expect(remaining).not.toContain(referral.id);
    const promoters = fp.promoters();
    expect(promoters.find((p) => p.id === active.id)?.archived_at).not.toBeNull();
    for (const other of otherPromoters) expect(promoters.find((p) => p.id === other.id)?.archived_at).toBeNull();
    const forms = emailSearchForms(asked);
    expect(fp.harness.requestsTo('GET /referrals').map((r) => r.query.get('q'))).toEqual(forms);
    expect(
      fp.harness.requestsTo('GET /promoters').map((r) => `${r.query.get('q')} ${r.query.get('filters[archived]')}`),
    ).toEqual(forms.flatMap((q) => [`${q} false`, `${q} true`]));
  });
});

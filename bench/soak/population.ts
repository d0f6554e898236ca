import type { FirstPromoterSimulator } from '#test/simulators/firstpromoter';
import type { ReferralRockSimulator } from '#test/simulators/referralrock';

/**
 * The soak's people, generated from a seed so the simulator process (which seeds the providers) and the driver (which
 * submits the requests and judges the outcomes) build the same population without passing personal data around.
 * Fictitious addresses on `example.test` (RFC 2606).
 */

export interface Person {
  index: number;
  email?: string;
  externalId?: string;
  /** Whether the providers hold anything of this person. */
  present: boolean;
}

/** What the providers hold at the start, beyond the subjects' own records: what must still be there at the end. */
export interface Bystanders {
  /** Referral Rock referrals of friends a subject referred (a search on the subject's email returns them too). */
  referralRockReferrals: string[];
  /** Referral Rock members and FirstPromoter promoters and referrals of people nobody asked about. */
  referralRockMembers: string[];
  firstPromoterReferrals: string[];
  firstPromoterPromoters: string[];
}

export interface Population {
  people: Person[];
  bystanders: Bystanders;
}

/** mulberry32: a small, fast, seeded PRNG; numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pad = (n: number) => String(n).padStart(5, '0');

/**
 * `subjects` people; `presentShare` of them (at least one) are at the providers. Of everyone, 70 % are asked about by
 * email, 15 % by external id, 15 % by both.
 */
export function buildPopulation(seed: number, subjects: number, presentShare = 0.1): Population {
  const random = seededRandom(seed);
  const presentCount = Math.max(1, Math.round(subjects * presentShare));
  const presentIndexes = new Set<number>();
  while (presentIndexes.size < Math.min(presentCount, subjects)) presentIndexes.add(Math.floor(random() * subjects));
  const people: Person[] = [];
  for (let index = 0; index < subjects; index++) {
    const kind = random();
    const email = `soak-${pad(index)}@example.test`;
    const externalId = `crm-soak-${pad(index)}`;
    people.push({
      index,
      ...(kind < 0.85 ? { email } : {}),
      ...(kind >= 0.7 ? { externalId } : {}),
      present: presentIndexes.has(index),
    });
  }
  return { people, bystanders: bystandersOf(people) };
}

/** The shape of what one present person holds, drawn from the person's index so it is the same in every process. */
export function holdingsOf(person: Person) {
  const random = seededRandom(person.index * 7919 + 17);
  const manyReferrals = random() < 0.3;
  return {
    /** Referral Rock: one member per program the person is in (two programs for 40 %). */
    memberships: random() < 0.4 ? 2 : 1,
    ownReferral: random() < 0.5,
    friends: Math.floor(random() * 3),
    /** FirstPromoter referrals: more than 5 (an asynchronous batch) for 30 %. */
    firstPromoterReferrals: manyReferrals ? 6 + Math.floor(random() * 3) : Math.floor(random() * 4),
    promoter: random() < 0.7,
    /** A referral whose email contains the subject's (FirstPromoter's `q` is a substring search): never erased. */
    lookalike: random() < 0.3,
  };
}

/** Where a person's records carry an email although the request names them only by external id. */
const contactEmail = (person: Person) => person.email ?? `contact-${pad(person.index)}@example.test`;

function bystandersOf(people: Person[]): Bystanders {
  const bystanders: Bystanders = {
    referralRockReferrals: [],
    referralRockMembers: [],
    firstPromoterReferrals: [],
    firstPromoterPromoters: [],
  };
  for (const person of people.filter((p) => p.present)) {
    const holds = holdingsOf(person);
    for (let f = 0; f < holds.friends; f++) {
      bystanders.referralRockReferrals.push(`friend-${f}-of-${pad(person.index)}@example.test`);
    }
    if (holds.lookalike) bystanders.firstPromoterReferrals.push(`x${contactEmail(person)}`);
  }
  const unrelated = Math.max(2, Math.round(people.length / 50));
  for (let n = 0; n < unrelated; n++) {
    bystanders.referralRockMembers.push(`unrelated-${pad(n)}@example.test`);
    bystanders.firstPromoterPromoters.push(`unrelated-${pad(n)}@example.test`);
    bystanders.firstPromoterReferrals.push(`unrelated-${pad(n)}@example.test`);
  }
  return bystanders;
}

/** Seeds both simulators with the population: the subjects' records and every bystander's. */
export function seedPopulation(population: Population, rr: ReferralRockSimulator, fp: FirstPromoterSimulator): void {
  const programs = [
    rr.addProgram({ name: 'Soak Referrals', title: 'Soak 2026' }),
    rr.addProgram({ name: 'Soak Partners', title: 'Partners' }),
  ];
  for (const person of population.people.filter((p) => p.present)) {
    const holds = holdingsOf(person);
    const email = contactEmail(person);
    const externalIdentifier = person.externalId ?? null;
    let firstMember: { id: string } | undefined;
    for (let m = 0; m < holds.memberships; m++) {
      const member = rr.addMember({ email, externalIdentifier, programId: programs[m]?.id as string });
      firstMember ??= member;
    }
    if (holds.ownReferral) rr.addReferral({ email, externalIdentifier, programId: programs[1]?.id as string });
    for (let f = 0; f < holds.friends; f++) {
      rr.addReferral({
        email: `friend-${f}-of-${pad(person.index)}@example.test`,
        referringMemberId: firstMember?.id as string,
      });
    }
    for (let r = 0; r < holds.firstPromoterReferrals; r++) {
      fp.addReferral({ email, uid: externalIdentifier ?? `signup-${pad(person.index)}-${r}` });
    }
    if (holds.promoter) fp.addPromoter({ email, cust_id: externalIdentifier });
    if (holds.lookalike) fp.addReferral({ email: `x${email}`, uid: null });
  }
  for (const email of population.bystanders.referralRockMembers)
    rr.addMember({ email, programId: programs[0]?.id as string });
  for (const email of population.bystanders.firstPromoterPromoters) fp.addPromoter({ email });
  for (const email of population.bystanders.firstPromoterReferrals.filter((e) => e.startsWith('unrelated-'))) {
    fp.addReferral({ email });
  }
}

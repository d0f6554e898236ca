import type { SimPromoter, SimReferral } from '#test/simulators/firstpromoter';
import type { ReferralRockSimMember, ReferralRockSimReferral } from '#test/simulators/referralrock';
import { type Bystanders, holdingsOf, type Person } from './population.ts';

/**
 * Judges every request's recorded outcome against what the providers really hold at the end (the simulators' ground
 * truth). A record is wrong in either direction: erased or archived said, yet something remains; failed or partial
 * said, yet nothing remains; canceled, yet the person's promoter stays archived (or records erased) with no other
 * request of that person to account for it.
 */

export interface GroundTruth {
  referralRock: { members: ReferralRockSimMember[]; referrals: ReferralRockSimReferral[] };
  firstPromoter: {
    referrals: SimReferral[];
    promoters: SimPromoter[];
    /** Batches not yet ended when the state was read, with the ids each acts on (see {@link afterEveryBatch}). */
    runningBatches?: Array<{ id: number; action: string; ids: number[] }>;
  };
}

/** One submitted request: who it is about and the view the service gives of it at the end (undefined: not found). */
export interface JudgedRequest {
  id: string;
  person: Person;
  view: RequestView | undefined;
}

export interface RequestView {
  status: string;
  actions: Array<{
    provider: string;
    action: string;
    outcome: string;
    count: number;
    errors?: string[];
    notes?: string[];
    /** The read-back that decided the outcome: when its search returned (absent for an unverified failure). */
    verification?: { checkedAt: string };
  }>;
  integrity: { chainValid: boolean };
  events: Array<{ seq: number; type: string; at?: string; data?: Record<string, unknown> }>;
}

export interface Verdict {
  statuses: Record<string, number>;
  /** Accepted, but not final at the end (or unknown to the service). */
  lost: number;
  wronglyRecorded: number;
  wrongByReason: Record<string, number>;
  /** Audit events appended after `request.completed` / `request.canceled`, by type. */
  eventsAfterEnd: number;
  eventsAfterEndByType: Record<string, number>;
  /** Records of people nobody asked about that are gone (or promoters archived). */
  collateral: number;
  brokenChains: number;
  /** Request ids of the wrong and lost ones, for a look at their trails. */
  examples: Array<{ id: string; problem: string }>;
  /**
   * Requests that ended neither completed nor canceled: their actions' outcomes and (non-personal) errors, and the
   * run's record of their failed task invocations (`time task: error`, restarts between them), added by the run.
   */
  notCompleted: Array<{ id: string; status: string; actions: string[]; taskFailures?: string[] }>;
}

const FINAL = new Set(['completed', 'partially_completed', 'failed', 'canceled']);
const END_EVENTS = new Set(['request.completed', 'request.canceled']);
const sameEmail = (a: string | null | undefined, b: string | undefined) =>
  !!a && !!b && a.toLowerCase() === b.toLowerCase();

/**
 * The providers' state once every batch has ended: a running batch completes as the simulator completes it (a
 * `referral/delete` removes its referrals, a `promoter/archive` archives and a `promoter/restore` restores its
 * promoters). An outcome is judged against this, not against a moment when a batch had yet to land: a request that
 * recorded `failed` for referrals its batch removed a second later recorded something untrue.
 */
export function afterEveryBatch(truth: GroundTruth): GroundTruth {
  const running = [...(truth.firstPromoter.runningBatches ?? [])].sort((a, b) => a.id - b.id);
  if (running.length === 0) return truth;
  const referrals = new Map(truth.firstPromoter.referrals.map((r) => [r.id, r]));
  const promoters = new Map(truth.firstPromoter.promoters.map((p) => [p.id, { ...p }]));
  // In the order the batches were created, as the provider runs them.
  for (const batch of running) {
    for (const id of batch.ids) {
      const promoter = promoters.get(id);
      if (batch.action === 'referral/delete') referrals.delete(id);
      else if (batch.action === 'promoter/archive' && promoter) promoter.archived_at ??= 'after a running batch';
      else if (batch.action === 'promoter/restore' && promoter) promoter.archived_at = null;
    }
  }
  return {
    referralRock: truth.referralRock,
    firstPromoter: { referrals: [...referrals.values()], promoters: [...promoters.values()], runningBatches: [] },
  };
}

/** What the providers still hold of one person, per action. */
export function remainingOf(person: Person, truth: GroundTruth) {
  const mine = (email: string | null | undefined, id: string | null | undefined) =>
    sameEmail(email, person.email) || (!!person.externalId && id === person.externalId);
  const promoters = truth.firstPromoter.promoters.filter((p) => mine(p.email, p.cust_id));
  return {
    'referralrock.delete_members': truth.referralRock.members.filter((m) => mine(m.email, m.externalIdentifier)).length,
    'referralrock.delete_referrals': truth.referralRock.referrals.filter((r) => mine(r.email, r.externalIdentifier))
      .length,
    'firstpromoter.delete_referrals': truth.firstPromoter.referrals.filter((r) => mine(r.email, r.uid)).length,
    'firstpromoter.archive_promoters': promoters.filter((p) => p.archived_at === null).length,
    archivedPromoters: promoters.filter((p) => p.archived_at !== null).length,
  };
}

/**
 * Judges every request against the providers' state after every batch has ended ({@link afterEveryBatch}).
 */
export function judge(requests: JudgedRequest[], bystanders: Bystanders, observed: GroundTruth): Verdict {
  const truth = afterEveryBatch(observed);
  const verdict: Verdict = {
    statuses: {},
    lost: 0,
    wronglyRecorded: 0,
    wrongByReason: {},
    eventsAfterEnd: 0,
    eventsAfterEndByType: {},
    collateral: collateralOf(bystanders, truth),
    brokenChains: 0,
    examples: [],
    notCompleted: [],
  };
  const byPerson = new Map<number, JudgedRequest[]>();
  for (const request of requests) {
    byPerson.set(request.person.index, [...(byPerson.get(request.person.index) ?? []), request]);
  }
  const note = (id: string, problem: string) => {
    if (verdict.examples.length < 50) verdict.examples.push({ id, problem });
  };

  for (const request of requests) {
    const { view, person } = request;
    if (!view || !FINAL.has(view.status)) {
      verdict.lost++;
      note(request.id, view ? `not final: ${view.status}` : 'unknown to the service');
      if (view) verdict.statuses[view.status] = (verdict.statuses[view.status] ?? 0) + 1;
      continue;
    }
    verdict.statuses[view.status] = (verdict.statuses[view.status] ?? 0) + 1;
    if (!view.integrity.chainValid) verdict.brokenChains++;
    if (view.status !== 'completed' && view.status !== 'canceled' && verdict.notCompleted.length < 50) {
      verdict.notCompleted.push({
        id: request.id,
        status: view.status,
        actions: view.actions.map(
          (a) =>
            `${a.provider}.${a.action} ${a.outcome}${a.errors ? ` (${a.errors.join('; ')})` : ''}${a.notes ? ` [${a.notes.join('; ')}]` : ''}`,
        ),
      });
    }

    const events = [...view.events].sort((a, b) => a.seq - b.seq);
    const end = events.findIndex((e) => END_EVENTS.has(e.type));
    if (end >= 0) {
      for (const late of events.slice(end + 1)) {
        verdict.eventsAfterEnd++;
        verdict.eventsAfterEndByType[late.type] = (verdict.eventsAfterEndByType[late.type] ?? 0) + 1;
      }
    }

    const reasons = wrongReasons(request, byPerson.get(person.index) ?? [], remainingOf(person, truth));
    if (reasons.length > 0) {
      verdict.wronglyRecorded++;
      for (const reason of reasons) verdict.wrongByReason[reason] = (verdict.wrongByReason[reason] ?? 0) + 1;
      note(request.id, reasons.join(', '));
    }
  }
  return verdict;
}

function wrongReasons(
  request: JudgedRequest,
  samePerson: JudgedRequest[],
  remaining: ReturnType<typeof remainingOf>,
): string[] {
  const view = request.view as RequestView;
  const reasons: string[] = [];
  const others = samePerson.filter((r) => r !== request);
  const anotherErased = others.some((r) => r.view && r.view.status !== 'canceled' && FINAL.has(r.view.status));
  const failureTrue = (action: RequestView['actions'][number]) => removedLater(action, view, others);
  const erasable = [
    remaining['referralrock.delete_members'],
    remaining['referralrock.delete_referrals'],
    remaining['firstpromoter.delete_referrals'],
  ];

  if (view.status === 'canceled') {
    if (remaining.archivedPromoters > 0 && !anotherErased) reasons.push('canceled but promoter left archived');
    if (request.person.present && !anotherErased) {
      const holds = holdingsOf(request.person);
      const seeded = [holds.memberships, holds.ownReferral ? 1 : 0, holds.firstPromoterReferrals];
      if (erasable.some((left, i) => left < (seeded[i] as number))) reasons.push('canceled but records erased');
    }
    return reasons;
  }

  if (
    view.status === 'completed' &&
    (erasable.some((n) => n > 0) || remaining['firstpromoter.archive_promoters'] > 0)
  ) {
    reasons.push('completed but records remain');
  }
  // A failure of records that are gone at the end is true only if another request of the person removed them after
  // this one's read-back found them: see removedLater.
  const failures = view.actions.filter((a) => a.outcome === 'failed' || a.outcome === 'partial');
  if (
    view.status !== 'completed' &&
    erasable.every((n) => n === 0) &&
    remaining['firstpromoter.archive_promoters'] === 0 &&
    !failures.some(failureTrue)
  ) {
    reasons.push(`${view.status} but nothing remains`);
  }
  for (const action of view.actions) {
    const key = `${action.provider}.${action.action}` as keyof typeof remaining;
    const left = remaining[key];
    if (left === undefined) continue;
    const saysDone = ['deleted', 'not_found', 'archived', 'skipped'].includes(action.outcome);
    if (saysDone && left > 0) reasons.push(`${key} ${action.outcome} but ${left} remain`);
    if ((action.outcome === 'failed' || action.outcome === 'partial') && left === 0 && !failureTrue(action)) {
      reasons.push(`${key} ${action.outcome} but none remain`);
    }
    if (action.outcome === 'pending') reasons.push(`${key} still pending in a final request`);
  }
  return reasons;
}

const REMOVED = new Set(['deleted', 'archived', 'partial']);

/** When an action's outcome was decided: its read-back's search, else its `action.recorded` event; unknown: undefined. */
function decidedAt(action: RequestView['actions'][number], view: RequestView): number | undefined {
  const checked = action.verification?.checkedAt;
  const event = view.events.find(
    (e) =>
      e.type === 'action.recorded' &&
      e.data?.provider === action.provider &&
      e.data?.action === action.action &&
      e.data?.outcome === action.outcome,
  );
  const at = Date.parse(checked ?? event?.at ?? '');
  return Number.isNaN(at) ? undefined : at;
}

/**
 * Whether a `failed`/`partial` of records that are all gone at the end can be true: only if another request of the same
 * person (not canceled) removed some of them after this one's read-back still found them. It removed them at the
 * latest when its own read-back found them gone, so its search must come after this one's; an erasure whose check came
 * before, a cancel's restore and re-archive (recorded `restored`), or no other request at all leave this failure
 * untrue: the records were gone, or went only through this service's own undoing, while the record says they stay.
 * With a time unknown on either side the failure is given the benefit of the doubt, so a true record is never counted.
 */
function removedLater(
  action: RequestView['actions'][number],
  view: RequestView,
  others: readonly JudgedRequest[],
): boolean {
  const failedAt = decidedAt(action, view);
  return others.some((other) => {
    if (!other.view || other.view.status === 'canceled') return false;
    const theirs = other.view.actions.find((a) => a.provider === action.provider && a.action === action.action);
    if (!theirs || !REMOVED.has(theirs.outcome) || theirs.count === 0) return false;
    const removedBy = decidedAt(theirs, other.view);
    return failedAt === undefined || removedBy === undefined || removedBy > failedAt;
  });
}

function collateralOf(bystanders: Bystanders, truth: GroundTruth): number {
  const count = <T extends { email: string | null }>(emails: string[], held: T[], ok: (r: T) => boolean = () => true) =>
    emails.filter((email) => !held.some((r) => sameEmail(r.email, email) && ok(r))).length;
  return (
    count(bystanders.referralRockReferrals, truth.referralRock.referrals) +
    count(bystanders.referralRockMembers, truth.referralRock.members) +
    count(bystanders.firstPromoterReferrals, truth.firstPromoter.referrals) +
    count(bystanders.firstPromoterPromoters, truth.firstPromoter.promoters, (p: SimPromoter) => p.archived_at === null)
  );
}

import type { RequestRepository } from '#shared/ports/audit';
import { clearlyBefore } from './dates.ts';
import type { ErasureRequest, LinkedPseudonym, RequestStatus } from './model.ts';
import { identifierPseudonym } from './subject.ts';

/**
 * Several requests for one person may be open at once (another `webhook-id`, the same email or external id). They share
 * the person's promoters: one that another request archived counts as archived for this one, and a cancel restores
 * only what no other request of the person still holds.
 */

/** The other requests of the same person: every request sharing one of this one's pseudonyms (email, external id). */
export async function otherRequestsOfSubject(
  requests: Pick<RequestRepository, 'findBySubject'>,
  request: ErasureRequest,
): Promise<ErasureRequest[]> {
  const found = new Map<string, ErasureRequest>();
  const { emailPseudonym, externalIdPseudonym } = request.subject;
  if (emailPseudonym) for (const r of await requests.findBySubject('email', emailPseudonym)) found.set(r.id, r);
  if (externalIdPseudonym) {
    for (const r of await requests.findBySubject('externalId', externalIdPseudonym)) found.set(r.id, r);
  }
  found.delete(request.id);
  return [...found.values()];
}

/**
 * The pseudonyms of the promoters' own identifiers (email, `cust_id`) that `request`'s subject does not have: a promoter
 * found by the subject's external id may carry an email under which another request of the same person was made (and
 * the other way round). Such requests share no identifier with this one, yet concern the same promoters. A promoter's
 * email that is not an email address is left out.
 */
export function linkedPseudonyms(
  key: Buffer,
  request: Pick<ErasureRequest, 'subject'>,
  promoters: ReadonlyArray<{ email?: string | null; cust_id?: string | null }>,
): LinkedPseudonym[] {
  const own = new Set([request.subject.emailPseudonym, request.subject.externalIdPseudonym]);
  const linked = new Map<string, LinkedPseudonym>();
  const add = (kind: LinkedPseudonym['kind'], value: string) => {
    try {
      const pseudonym = identifierPseudonym(key, kind, value);
      if (!own.has(pseudonym)) linked.set(`${kind}:${pseudonym}`, { kind, pseudonym });
    } catch {
      // Not an email address: no request can have been made under it.
    }
  };
  for (const promoter of promoters) {
    if (promoter.email) add('email', promoter.email);
    if (promoter.cust_id) add('externalId', promoter.cust_id);
  }
  return [...linked.values()];
}

/** The requests made under `linked` pseudonyms, other than `request` (see {@link linkedPseudonyms}). */
export async function requestsLinkedBy(
  requests: Pick<RequestRepository, 'findBySubject'>,
  request: ErasureRequest,
  linked: readonly LinkedPseudonym[] = request.plans?.['firstpromoter.promoters']?.linked ?? [],
): Promise<ErasureRequest[]> {
  const found = new Map<string, ErasureRequest>();
  for (const { kind, pseudonym } of linked) {
    for (const r of await requests.findBySubject(kind, pseudonym)) found.set(r.id, r);
  }
  found.delete(request.id);
  return [...found.values()];
}

/**
 * The promoters a request archived, holds, or planned to archive (an archive call whose answer was lost may have
 * archived them). Promoters archived before the request are in none of these.
 */
export function promotersOf(request: ErasureRequest): number[] {
  const planned = request.plans?.['firstpromoter.promoters']?.ids ?? [];
  return [...new Set([...(request.archivedPromoterIds ?? []), ...planned.map(Number)])];
}

const STILL_ERASING: readonly RequestStatus[] = ['received', 'waiting', 'processing', 'closing'];
const ERASED: readonly RequestStatus[] = ['completed', 'partially_completed', 'failed'];

/**
 * Which of `ids` other requests of the person hold. An unfinished request holds the promoters it archived or planned
 * to; with `includeCanceling`, so does one whose cancel has not finished (its restore may still come: the archive step
 * then archives them itself, after it). With `endedSince`, a request that ended with an erasure after that time holds
 * them all: it overlapped, and its promoter ids are forgotten at its end, so which ones it held is no longer known;
 * leaving them archived is the side an erasure errs on. So does one `closing`: its finalize forgets the ids in the
 * write that seals its trail, before it issues the receipt and sets the final status, so it may hold them unseen.
 * Neither holds any when its archive step found no promoter (`not_found`).
 * `linked`: requests found through the promoters' own identifiers (see {@link linkedPseudonyms}), which hold them all
 * (but one whose archive step found no promoter, which holds none).
 */
export function promotersHeldByOthers(
  others: readonly ErasureRequest[],
  ids: readonly number[],
  options: { includeCanceling?: boolean; endedSince?: string; linked?: readonly ErasureRequest[] } = {},
): Set<number> {
  const held = new Set<number>();
  // A request linked through the promoters' identifiers (see linkedPseudonyms) holds them all while it holds anything:
  // it may have judged them archived before it and planned none of them, and only this request restoring them would
  // undo what its record says.
  // Not one whose archive step found no promoter (`not_found`: made under the promoter's identifier before the
  // promoter carried it): it relied on none, and held by it they would stay archived for good after this cancel.
  for (const other of options.linked ?? []) {
    if (foundNoPromoter(other)) continue;
    if (holdsAny(other, options) || holdsAll(other, options)) for (const id of ids) held.add(id);
  }
  for (const other of others) {
    if (holdsAll(other, options)) {
      for (const id of ids) held.add(id);
    } else if (holdsAny(other, options)) {
      const theirs = new Set(promotersOf(other));
      for (const id of ids) if (theirs.has(id)) held.add(id);
    }
  }
  return held;
}

/** Whether `other` is a request that holds promoters at all now: unfinished (or canceling, with `includeCanceling`). */
function holdsAny(other: ErasureRequest, options: { includeCanceling?: boolean }): boolean {
  return STILL_ERASING.includes(other.status) || (options.includeCanceling === true && other.status === 'canceling');
}

/**
 * Whether `other` holds every promoter, its own ids being unknown: with `endedSince`, one ending with an erasure now
 * (`closing`: its ids are forgotten at its seal) or that ended with one since. Not one whose archive step found no
 * promoter at all (`not_found`: it planned, archived and relied on none, so the ids it forgot were none); held by it,
 * a cancel's promoters would stay archived for good, the cancel's record naming a holder that holds nothing.
 */
function holdsAll(other: ErasureRequest, options: { endedSince?: string }): boolean {
  if (options.endedSince === undefined) return false;
  if (foundNoPromoter(other)) return false;
  if (other.status === 'closing') return true;
  // Its end and the plan are on different Lambdas' clocks: one that ended within their difference before may have
  // ended after, and holds them (the side an erasure errs on).
  const ended = other.completedAt;
  return ERASED.includes(other.status) && ended !== undefined && !clearlyBefore(ended, options.endedSince);
}

/** Whether `other`'s archive step found no promoter of its subject at all: it planned, archived and relied on none. */
const foundNoPromoter = (other: ErasureRequest): boolean =>
  other.actions['firstpromoter.promoters']?.outcome === 'not_found';

import type { RequestRepository } from '#shared/ports/audit';
import type { ErasureRequest, RequestStatus } from './model.ts';

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
 */
export function promotersHeldByOthers(
  others: readonly ErasureRequest[],
  ids: readonly number[],
  options: { includeCanceling?: boolean; endedSince?: string } = {},
): Set<number> {
  const held = new Set<number>();
  for (const other of others) {
    const holding =
      STILL_ERASING.includes(other.status) || (options.includeCanceling === true && other.status === 'canceling');
    if (options.endedSince !== undefined && other.status === 'closing') {
      for (const id of ids) held.add(id);
    } else if (holding) {
      const theirs = new Set(promotersOf(other));
      for (const id of ids) if (theirs.has(id)) held.add(id);
    } else if (
      options.endedSince !== undefined &&
      ERASED.includes(other.status) &&
      (other.completedAt ?? '') >= options.endedSince
    ) {
      for (const id of ids) held.add(id);
    }
  }
  return held;
}

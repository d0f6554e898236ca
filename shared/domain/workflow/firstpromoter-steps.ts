import { currentUnansweredCalls, noteUnansweredCall, UnansweredCalls } from '#shared/workflow/unanswered-calls';
import { archiveBatchOf, awaitingArchiveBatch, inFives } from '../archive-batch.ts';
import { summarizeBatch } from '../batch.ts';
import { finishCancel, restoreArchivedPromoters } from '../erasure-requests.ts';
import {
  ACTIONS,
  type ActionOutcome,
  type ActionRecord,
  type ErasureRequest,
  type Identity,
  OPEN_STATUSES,
  type RequestStatus,
} from '../model.ts';
import {
  linkedPseudonyms,
  otherRequestsOfSubject,
  promotersHeldByOthers,
  promotersOf,
  requestsLinkedBy,
} from '../same-subject.ts';
import { batchStillToFollow } from './firstpromoter-referrals.ts';
import { type FailureInput, judgeByReadBack, readBackProof, settleAction } from './read-back.ts';
import {
  ACTOR,
  actionEvent,
  type FirstPromoterTaskDeps,
  identityOf,
  load,
  type RequestInput,
  record,
  recordNothingFound,
} from './task-context.ts';

/** Statuses in which the archive step may plan: before erasure begins, and never after a cancel. */
const ARCHIVE_STAGE: readonly RequestStatus[] = ['received', 'waiting'];
const PROMOTERS = 'firstpromoter.promoters';

/**
 * Archives the subject's FirstPromoter promoters before anything is erased. FirstPromoter v2 has no promoter delete;
 * archiving blocks the promoter everywhere and is reversible, so a canceled request can restore exactly what it archived.
 * Promoters archived before this request are left alone, and never restored by it. A promoter another request of the
 * same person archived (or is archiving) counts as archived for this one too, and this request holds it: a cancel of
 * the other does not restore what this one still needs.
 */
export async function archivePromoters(deps: FirstPromoterTaskDeps, { requestId }: RequestInput) {
  const request = await load(deps, requestId);
  const done = request.actions[PROMOTERS];
  if (done && done.outcome !== 'pending') return { outcome: done.outcome, count: done.count };
  if (!ARCHIVE_STAGE.includes(request.status)) return { outcome: 'skipped' as const, count: 0 };

  const identity = identityOf(deps, request);
  let promoters = await deps.firstPromoter.findPromoters(identity);
  const searchedAt = deps.clock.now();
  const nothing = readBackProof(identity, 0, 'not_found', searchedAt);
  if (promoters.length === 0 && (await recordNothingFound(deps, request, PROMOTERS, ARCHIVE_STAGE, nothing))) {
    return { outcome: 'not_found' as const, count: 0 };
  }
  // Requests of the same person made under the promoters' other identifiers (an email the subject's external id
  // found, or a cust_id): written with the plan, so a cancel of this request finds them, and asked here who holds what.
  const linked = deps.pseudonymKey ? linkedPseudonyms(deps.pseudonymKey, request, promoters) : [];
  let archived = promoters.filter((p) => p.archived_at !== null).map((p) => p.id);
  let held = new Set<number>();
  if (archived.length > 0) {
    const heldNow = async () => {
      const others = await otherRequestsOfSubject(deps.requests, request);
      const holders = { includeCanceling: true, linked: await requestsLinkedBy(deps.requests, request, linked) };
      return { others, held: promotersHeldByOthers(others, archived, holders) };
    };
    const first = await heldNow();
    held = first.held;
    // A request of the person whose cancel ended may have restored, after the search answered, a promoter it found
    // archived: read after the search, that request no longer holds it, and the promoter would pass for one archived
    // before this request (left alone, and the erasure complete over an active promoter). Searched again once the
    // holders are known, it is found active and archived like any other. The holders are read again after that
    // search: one found archived then may have been archived meanwhile by a request of the person made since the
    // first read, which holds it (else this one would leave it alone, and that request's cancel restore it).
    if (archived.some((id) => !held.has(id)) && first.others.some((other) => other.status === 'canceled')) {
      promoters = await deps.firstPromoter.findPromoters(identity);
      archived = promoters.filter((p) => p.archived_at !== null).map((p) => p.id);
      held = archived.length > 0 ? (await heldNow()).held : new Set();
    }
  }
  // An earlier try planned and never came to rest (it left a call unanswered, or its Lambda was cut off): that call may
  // land after this try's rest, so this try's rest is not the step's (read before this try's plan write removes it).
  const earlierTryInFlight = request.plans?.[PROMOTERS] !== undefined && request.archiveIdleSince === undefined;
  const candidates = [...promoters.filter((p) => p.archived_at === null).map((p) => p.id), ...held];
  const alreadyArchived = archived.length - held.size;
  // The set is fixed before the call, and only while the request is open: a retry archives (and a cancel restores)
  // the same promoters, and nothing is planned, let alone archived, after a cancel.
  const plan = await deps.requests.planAction(
    requestId,
    PROMOTERS,
    candidates,
    deps.clock.now().toISOString(),
    { whileIn: ARCHIVE_STAGE },
    // This try is in flight from here: a cancel must not take an earlier try's rest for this one's.
    { clearArchiveIdle: true, linked },
  );
  if (!plan) return { outcome: 'skipped' as const, count: 0 };
  const { ids } = plan;
  if (ids.length === 0) {
    const outcome = alreadyArchived > 0 ? 'skipped' : 'not_found';
    return record(deps, request, PROMOTERS, {
      outcome,
      count: 0,
      // The search found no active promoter of the subject: that is the proof.
      verification: readBackProof(identity, 0, outcome, searchedAt),
      ...(alreadyArchived > 0
        ? { errors: [`${alreadyArchived} promoter(s) were already archived before this request`] }
        : {}),
    });
  }

  const calls = new UnansweredCalls();
  try {
    return await calls.run(() => archivePlanned(deps, request, identity, ids, held));
  } catch (error) {
    const ended = earlierTryInFlight ? undefined : await endTryAtRest(deps, requestId, calls, error);
    if (ended) return ended;
    throw error;
  }
}

/**
 * Ends a try of the archive step that failed after planning (an error status, a deferral for the rate budget, the
 * store): when every provider request it sent was answered, nothing of it can still land at FirstPromoter, so it says
 * so on the request (`archiveIdleSince`) and a cancel during the wait before the next try finishes at once. A cancel
 * that came while this try was in flight (and so waited for it) is finished here. A try that left a request
 * unanswered (a timeout, a dropped connection, its time budget's end) says nothing: the cancel allows it its time. So
 * does every later try (its caller skips this): the earlier try's unanswered call may land after their rest.
 * @returns the step's result when it finished the cancel; undefined to end the try with its error
 */
async function endTryAtRest(
  deps: FirstPromoterTaskDeps,
  requestId: string,
  calls: UnansweredCalls,
  error: unknown,
): Promise<{ outcome: ActionOutcome; count: number; chainHead?: { seq: number; hash: string } } | undefined> {
  if (calls.count > 0 || (error instanceof Error && error.name === 'TimeoutError')) return undefined;
  try {
    const at = deps.clock.now().toISOString();
    const status = await deps.requests.markArchiveIdle(requestId, at, [...ARCHIVE_STAGE, 'canceling']);
    if (status !== 'canceling') return undefined;
    const current = await load(deps, requestId);
    const { restore, chainHead } = await finishCancel(deps, current, { stopWorkflow: false, archiveStepEnded: true });
    if (restore !== 'done') return undefined;
    return { outcome: 'restored', count: promotersOf(current).length, ...(chainHead ? { chainHead } : {}) };
  } catch {
    // Left as it was: the cancel waits for the step's time, and the sweeper finishes it.
    return undefined;
  }
}

/** The archive of the planned promoters, its read-back and its record: the part of a try that acts. */
async function archivePlanned(
  deps: FirstPromoterTaskDeps,
  request: ErasureRequest,
  identity: Identity,
  ids: readonly number[],
  held: ReadonlySet<number>,
): Promise<{ outcome: ActionOutcome; count: number; chainHead?: { seq: number; hash: string } }> {
  // Held promoters are archived again too (archiving an archived promoter changes nothing): should the other request's
  // cancel restore them meanwhile, either this archive lands after that restore, or that cancel finds this plan and
  // archives them again.
  // At most 5 ids a call (PROVIDER-APIS.md, seeds/001: more than 5 ids are "processed asynchronously"): FirstPromoter
  // finishes each call before it answers, so the search that follows judges what the archive did. One call of more
  // would be a batch running on, which could still fail after a record said `archived`.
  const batches = await inFives((chunk) => deps.firstPromoter.archivePromoters(chunk), ids);
  const summaries = batches.map((batch) => summarizeBatch(batch));
  // Defensive: should FirstPromoter still answer a call with a batch running, it acts after this answer, as an
  // unanswered call may. Its answer is no success: the read-back judges (archiving again what it finds active), and the
  // record names the batch, so a cancel's restore waits for it to end. Should the try fail before that record (the
  // store's write), it is not at rest, and a cancel allows it its time.
  const running = summaries.filter((s) => s.state === 'running');
  if (running.length > 0) noteUnansweredCall();
  // Judged by searching again, as every other action: a promoter still active is not archived, whatever the calls said.
  const { active, archivedAgain } = await readBackArchive(deps, request.id, identity, ids);
  const checkedAt = deps.clock.now();
  const verdict = judgeByReadBack(ids, active, 'archived');
  const unfinished = summaries.filter((s) => s.state !== 'completed' && s.state !== 'running');
  const errorCount = summaries.reduce((sum, s) => sum + s.errorCount, 0);
  const errors = [
    ...(errorCount > 0 ? [`${errorCount} processing error(s) reported by FirstPromoter`] : []),
    ...(unfinished.length > 0
      ? [
          `${unfinished.length} of ${batches.length} archive call(s) answered ${unfinished.map((s) => s.state).join(', ')}`,
        ]
      : []),
    ...running.map((s) => `archive batch ${s.batchId} was still running when answered`),
    ...(verdict.remaining > 0
      ? [`${verdict.remaining} of ${ids.length} promoter(s) still active by a search afterwards`]
      : []),
  ];
  // The batch a cancel must wait for, when one still runs; else the last call's, for follow-up.
  const batchId = (running.at(-1) ?? summaries.at(-1))?.batchId;
  const heldCount = ids.filter((id) => held.has(id)).length;
  const notes = [
    ...(heldCount > 0
      ? [`${heldCount} promoter(s) archived by another open request of this person, held by this one too`]
      : []),
    ...(archivedAgain ? [archivedAgainNote(archivedAgain)] : []),
  ];
  return recordArchive(
    deps,
    request,
    ids,
    {
      ...ACTIONS[PROMOTERS],
      outcome: verdict.outcome,
      count: verdict.count,
      ...(batchId === undefined ? {} : { batchId }),
      verification: readBackProof(identity, verdict.remaining, verdict.outcome, checkedAt),
      ...(errors.length ? { errors } : {}),
      ...(notes.length ? { notes } : {}),
      updatedAt: deps.clock.now().toISOString(),
    },
    { batchRunning: running.length > 0 },
  );
}

/** Archive calls a read-back makes at most for promoters it finds still active, before it judges them. */
const ARCHIVE_AGAIN_ATTEMPTS = 2;

/**
 * The read-back of an archive: the planned promoters still active by a search afterwards. One found active is archived
 * again (archiving is idempotent) and searched for again before it counts against the archive: another request of the
 * person holding it may be canceling, and its restore can land between this archive and this search, before the
 * re-archive that cancel makes for the promoters others hold (`restoreArchivedPromoters`). Judged in that window, the
 * outcome would say `failed` of a promoter FirstPromoter holds archived a moment later. An archive made after a search
 * saw the restore's effect lands after that restore, so the next search judges what stays.
 * Only while this request is still open: once it is canceled, a promoter found active may be one its own cancel has
 * just restored, and archiving it again would undo that restore for a request that no longer exists (and, were that
 * call to go unanswered, land after the restore the step makes when its record is refused). And as a call in flight:
 * the request no longer says the step is at rest, so a cancel meanwhile waits for it.
 * @returns the planned ids still active after the last search, and how many were archived again
 * @throws the error of an archive again that went unanswered (it may still land: nothing can be judged yet)
 */
async function readBackArchive(
  deps: Pick<FirstPromoterTaskDeps, 'firstPromoter' | 'requests' | 'clock'>,
  requestId: string,
  identity: Identity,
  ids: readonly number[],
): Promise<{ active: number[]; archivedAgain: number }> {
  const search = async () =>
    (await deps.firstPromoter.findPromoters(identity, { activeOnly: true }))
      .filter((p) => p.archived_at === null && ids.includes(p.id))
      .map((p) => p.id);
  let active = await search();
  let archivedAgain = 0;
  for (let attempt = 0; attempt < ARCHIVE_AGAIN_ATTEMPTS && active.length > 0; attempt++) {
    // The plan's write (the plan stays as it is) while the request is open, removing `archiveIdleSince` as a try's own
    // plan write does: this archive is a call in flight, and a cancel that reads the request after it must wait for
    // it. The settle task (after a try that ended at rest) would otherwise let a cancel finish at once, before this
    // archive lands.
    const inFlight = await deps.requests.planAction(
      requestId,
      PROMOTERS,
      ids,
      deps.clock.now().toISOString(),
      { whileIn: OPEN_STATUSES },
      { clearArchiveIdle: true },
    );
    if (!inFlight) break;
    const calls = new UnansweredCalls();
    try {
      // At most 5 ids a call: FirstPromoter archives those before it answers, so the search that follows judges what
      // the archive did. More would be a batch still running at that search, judged failed while it archives them
      // later, under a record naming no batch a cancel's restore would wait for.
      await calls.run(() => inFives((ids) => deps.firstPromoter.archivePromoters(ids), active));
    } catch (error) {
      // Unanswered (a timeout, a dropped connection), it may still land: a search now would judge `failed` a promoter
      // it archives a moment later, and a cancel finished on that judgement would be undone by it. The step's error
      // ends the try instead; the settle task judges later, and a cancel meanwhile allows the step its time.
      if (calls.count > 0) throw error;
      // Answered: the search that follows judges what the failed call left; what ended it is the step's to report.
      break;
    }
    archivedAgain = Math.max(archivedAgain, active.length);
    active = await search();
  }
  return { active, archivedAgain };
}

const archivedAgainNote = (count: number) =>
  `${count} promoter(s) found still active by a search after the archive were archived again before the outcome ` +
  'was judged (a cancel of another request of this person may restore them meanwhile)';

/**
 * Records what the archive step archived (the ids a cancel restores) and its outcome in one write, while the request is
 * open. Refused because the request was canceled meanwhile (the cancel's restore may have run before the archive
 * landed), the step restores them and finishes the cancel; refused because the workflow moved on or ended, it records
 * nothing and undoes nothing.
 */
async function recordArchive(
  deps: FirstPromoterTaskDeps,
  request: ErasureRequest,
  ids: readonly number[],
  entry: ActionRecord,
  options: { batchRunning?: boolean } = {},
): Promise<{ outcome: ActionOutcome; count: number; chainHead?: { seq: number; hash: string } }> {
  const events = [actionEvent(request, PROMOTERS, entry)];
  if (await deps.requests.recordArchivedPromoters(request.id, ids, entry, OPEN_STATUSES, { events })) {
    return { outcome: entry.outcome, count: entry.count };
  }
  let current = await load(deps, request.id);
  if (current.status !== 'canceling' && current.status !== 'canceled') return { outcome: 'skipped', count: 0 };
  // The archive's batch still runs at FirstPromoter (a call answered running, against its docs): restored now, they
  // would be archived again when it completes. Recorded under the cancel, so the cancel knows the batch to wait for;
  // the restore runs once it ended (finishCancel, here or at the sweeper's next run).
  if (
    options.batchRunning &&
    current.status === 'canceling' &&
    (await deps.requests.recordArchivedPromoters(request.id, ids, entry, ['canceling'], { events }))
  ) {
    current = await load(deps, request.id);
  }
  if (current.status === 'canceling' && (await awaitingArchiveBatch(deps, current, ACTOR, archiveBatchOf(current)))) {
    return { outcome: entry.outcome, count: entry.count };
  }
  await restoreArchivedPromoters(deps, current, ACTOR, ids);
  if (current.status !== 'canceling') return { outcome: 'restored', count: ids.length };
  // The step has ended only if nothing it sent is left unanswered: a call that timed out may still land after this
  // restore, and then the cancel waits the step's time and restores again (finishCancel, the sweeper).
  const archiveStepEnded = (currentUnansweredCalls()?.count ?? 0) === 0;
  // The head of the trail the step ended goes to the execution history, an anchor outside the tables.
  const { chainHead } = await finishCancel(deps, current, { stopWorkflow: false, archiveStepEnded });
  return { outcome: 'restored', count: ids.length, ...(chainHead ? { chainHead } : {}) };
}

/**
 * The state machine's Catch for every FirstPromoter step: whatever ended the archive, the delete or a batch poll (an
 * error status, a batch gone, retries exhausted, a timeout), the outcome is decided by searching again (`settleAction`):
 * promoters no longer active are archived (and held: a cancel restores them), referrals no longer found deleted.
 */
export async function settleFirstPromoterAction(deps: FirstPromoterTaskDeps, input: FailureInput) {
  if (input.action === PROMOTERS) {
    let active: number[] = [];
    // A ledger of its own, as the archive step's try has: an archive the read-back repeats may go unanswered.
    return new UnansweredCalls().run(() =>
      settleAction(deps, input, {
        search: async (identity, request) => {
          // The planned ones found active are archived again before they count (see readBackArchive); others found
          // active (not this request's to archive) are reported as they are.
          const promoters = await deps.firstPromoter.findPromoters(identity, { activeOnly: true });
          const found = promoters.filter((p) => p.archived_at === null).map((p) => p.id);
          const planned = (request.plans?.[PROMOTERS]?.ids ?? []).map(Number).filter((id) => found.includes(id));
          const again = planned.length > 0 ? await readBackArchive(deps, request.id, identity, planned) : undefined;
          active = again ? found.filter((id) => !planned.includes(id) || again.active.includes(id)) : found;
          return active;
        },
        done: 'archived',
        providerLabel: 'FirstPromoter',
        write: (request, fields) => {
          const planned = (request.plans?.[PROMOTERS]?.ids ?? []).map(Number);
          const archived = planned.filter((id) => !active.includes(id));
          return recordArchive(deps, request, archived, {
            ...ACTIONS[PROMOTERS],
            ...fields,
            updatedAt: deps.clock.now().toISOString(),
          });
        },
      }),
    );
  }
  if (input.action !== 'firstpromoter.referrals') throw new Error(`No FirstPromoter action ${input.action}`);
  return settleAction(deps, input, {
    whileStillFound: (request) => batchStillToFollow(deps, request, input),
    search: async (identity) => (await deps.firstPromoter.findReferrals(identity)).map((r) => r.id),
    done: 'deleted',
    providerLabel: 'FirstPromoter',
  });
}

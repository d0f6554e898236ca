import { createHash, createHmac } from 'node:crypto';
import canonicalize from 'canonicalize';
import { type CallbackScheduler, deliveryLogId } from '#shared/callbacks/delivery';
import type { IdentityCipher } from '#shared/crypto/identity-cipher';
import type { IdentifierKind } from '#shared/crypto/pseudonym';
import { AuditTrailSealedError, ConflictError, NotFoundError } from '#shared/errors';
import type { AuditLog, Clock, RequestRepository, WorkflowEngine } from '#shared/ports/audit';
import type { ReceiptIssuer } from '#shared/ports/evidence';
import type { Batch, FirstPromoterPort } from '#shared/ports/providers';
import { archiveBatchOf, awaitingArchiveBatch, inFives, restoreBatchState } from './archive-batch.ts';
import { summarizeBatch } from './batch.ts';
import { laneChainId, verifyTrail } from './chain.ts';
import { addDays, clearlyBefore, deadlineFor, epochSeconds } from './dates.ts';
import { appendExtensionEvent, type DeadlineExtension } from './deadline-extension.ts';
import {
  ACTION_KEYS,
  ACTIONS,
  type ActionOutcome,
  type AuditEvent,
  CANCELABLE_STATUSES,
  type ErasureRequest,
  type Identity,
  type NewAuditEvent,
  type RequestStatus,
} from './model.ts';
import { isRequestId, requestIdFor, webhookIdHash } from './request-ids.ts';
import { otherRequestsOfSubject, promotersHeldByOthers, promotersOf, requestsLinkedBy } from './same-subject.ts';
import { type ErasureRequestBody, identifierPseudonym, redact, subjectRef } from './subject.ts';

export interface RequestDeps {
  requests: RequestRepository;
  audit: AuditLog;
  workflow: WorkflowEngine;
  clock: Clock;
  cipher: IdentityCipher;
  pseudonymKey: Buffer;
  retentionDays: number;
  /** IANA time zone of the controller's calendar, in which `dueAt` is counted (DEADLINE_TIME_ZONE); default UTC. */
  deadlineTimeZone?: string;
}

/**
 * What {@link submitErasureRequest} runs, and nothing more: the request's one write, a redelivery's append and the
 * workflow's start (so an intake's composition builds only those).
 */
export type SubmitDeps = Omit<RequestDeps, 'requests' | 'audit' | 'workflow'> & {
  requests: Pick<RequestRepository, 'create'>;
  audit: Pick<AuditLog, 'append'>;
  workflow: Pick<WorkflowEngine, 'start'>;
};

/** A short, stable, non-secret fingerprint of a secret or token: tells an auditor which one was used. */
export const fingerprint = (secret: string): string => createHash('sha256').update(secret).digest('hex').slice(0, 12);

export interface SubmitInput {
  webhookId: string;
  /** The JSON document received, as parsed: what a redelivery must equal (after RFC 8785 canonicalization). */
  document: unknown;
  body: ErasureRequestBody;
  /** Fingerprint of the webhook secret that verified the signature. */
  signedWith: string;
  /** A named sender's request: which sender, verified how (`signedWith` is its key's fingerprint). */
  sender?: { name: string; verification: string };
}

export interface SubmitResult {
  request: ErasureRequest;
  created: boolean;
}

/**
 * Records a verified erasure request and starts its workflow. Idempotent on `webhook-id`: a redelivery, concurrent or
 * not, returns the request already stored and starts nothing new; a request stored but whose workflow did not start (a
 * crash in between) is started again, which the engine makes a no-op when it is running.
 */
export async function submitErasureRequest(deps: SubmitDeps, input: SubmitInput): Promise<SubmitResult> {
  const id = requestIdFor(deps.pseudonymKey, input.webhookId);
  const receivedAt = deps.clock.now();
  const identity: Identity = {
    ...(input.body.email === undefined ? {} : { email: input.body.email }),
    ...(input.body.externalId === undefined ? {} : { externalId: input.body.externalId }),
  };
  // Over the canonical JSON (RFC 8785), so a sender that re-serializes a redelivery (keys reordered, spacing, escapes)
  // is still recognized; keyed, because the body holds the identity.
  const payloadHash = createHmac('sha256', deps.pseudonymKey)
    .update(canonicalize(input.document) ?? '')
    .digest('hex');
  const candidate: ErasureRequest = {
    id,
    status: 'received',
    ...(input.body.reference ? { reference: input.body.reference } : {}),
    receivedAt: receivedAt.toISOString(),
    dueAt: deadlineFor(receivedAt, deps.deadlineTimeZone).toISOString(),
    webhookIdHash: webhookIdHash(deps.pseudonymKey, input.webhookId),
    payloadHash,
    signedWith: input.signedWith,
    ...(input.sender ? { sender: input.sender } : {}),
    subject: subjectRef(deps.pseudonymKey, identity),
    identity: deps.cipher.encrypt(JSON.stringify(identity), id),
    actions: {},
    expiresAt: epochSeconds(addDays(receivedAt, deps.retentionDays)),
  };

  // One write: the request, its identity and its first event, so none of them exists without the others.
  const stored = await deps.requests.create(candidate, { events: [receivedEvent(candidate)] });
  const { created, request } = stored;
  if (!created && request.payloadHash !== payloadHash) {
    throw new ConflictError('This webhook-id was already used for a different request');
  }
  // A redelivery: keyed, so appended only where a request stored by an earlier version lacks it.
  if (!created) await deps.audit.append(id, receivedEvent(request));
  if (request.status === 'received') {
    await deps.workflow.start(id, {
      dueAt: request.dueAt,
      receivedAt: request.receivedAt,
      ...(stored.created && stored.lastEvent ? { lastEvent: stored.lastEvent } : {}),
    });
  }
  return { request, created };
}

/**
 * Who asked, when, about whom (pseudonyms), by when: the first event of every trail. Keyed, so intake and the workflow's
 * first step (for a request whose intake failed after storing it) append it once between them.
 */
export function receivedEvent(request: ErasureRequest): NewAuditEvent {
  return {
    type: 'request.received',
    // Which sender and which of its keys: `sender:<name>:<key fingerprint>`; Standard Webhooks senders `webhook:<…>`.
    actor: request.sender ? `sender:${request.sender.name}:${request.signedWith}` : `webhook:${request.signedWith}`,
    key: 'request.received',
    data: {
      ...(request.sender ? { sender: request.sender.name, verification: request.sender.verification } : {}),
      webhookIdHash: request.webhookIdHash,
      reference: request.reference ?? null,
      subject: request.subject,
      receivedAt: request.receivedAt,
      dueAt: request.dueAt,
    },
  };
}

export interface ActionView {
  provider: string;
  action: string;
  outcome: ActionOutcome;
  count: number;
  batchId?: number;
  errors?: string[];
}

type ViewEvent = Pick<AuditEvent, 'seq' | 'type' | 'at' | 'actor' | 'data' | 'key' | 'prevHash' | 'hash'>;

export interface RequestView {
  id: string;
  status: RequestStatus;
  reference: string | null;
  receivedAt: string;
  dueAt: string;
  completedAt?: string;
  canceledAt?: string;
  overdue: boolean;
  /** Present once the due date was extended (Art. 12(3)); `dueAt` is then the extended one. */
  extension?: Omit<DeadlineExtension, 'extendedBy'>;
  subject: { pseudonym: string; identifiers: IdentifierKind[] };
  actions: ActionView[];
  /**
   * The verdict on the whole trail (its chain, each lane, and the lanes' heads against the seal); `events` counts
   * every event checked, `brokenLane` names the lane where it broke.
   */
  integrity: { chainValid: boolean; events: number; brokenAt?: number; brokenLane?: string };
  /** Everything each event's hash covers (with the request id), so an auditor can recompute the chain. */
  events: ViewEvent[];
  /**
   * The lanes of the trail that have events (see `CHAIN_LANES`): each a chain of its own, hashed with `chainId` in
   * place of the request id, whose head the sealing event's `data.lanes` commits to.
   */
  lanes?: Array<{ lane: string; chainId: string; events: ViewEvent[] }>;
  /**
   * The completion callbacks' delivery log, once it has an event: a chain of its own (hashed with `logId` in place of
   * the request id), written after the request's trail was sealed and never part of it.
   */
  callbackDeliveries?: { logId: string; integrity: RequestView['integrity']; events: ViewEvent[] };
}

/** What an auditor sees of one request: never the identity, only pseudonyms, outcomes and the verified event chain. */
export async function getRequestView(
  deps: Pick<RequestDeps, 'audit' | 'clock'> & { requests: Pick<RequestRepository, 'get'> },
  id: string,
) {
  if (!isRequestId(id)) throw new NotFoundError();
  const request = await deps.requests.get(id);
  if (!request) throw new NotFoundError();
  const [events, lanes, deliveries] = await Promise.all([
    deps.audit.list(id),
    deps.audit.lanes(id),
    deps.audit.list(deliveryLogId(id)),
  ]);
  return toView(request, events, deps.clock.now(), deliveries, lanes);
}

const withoutActor = ({ extendedBy: _by, ...extension }: DeadlineExtension) => extension;

/** A request as lists and exports show it: the status view without its events and chain check. */
export type RequestSummary = Omit<RequestView, 'integrity' | 'events' | 'lanes' | 'callbackDeliveries'>;

/** The summary of a request; `now` decides whether an open request is overdue. */
export function toSummary(request: ErasureRequest, now: Date): RequestSummary {
  const ended = request.completedAt ?? request.canceledAt;
  const end = ended ? new Date(ended) : now;
  return {
    id: request.id,
    status: request.status,
    reference: request.reference ?? null,
    receivedAt: request.receivedAt,
    dueAt: request.dueAt,
    ...(request.completedAt ? { completedAt: request.completedAt } : {}),
    ...(request.canceledAt ? { canceledAt: request.canceledAt } : {}),
    overdue: end.getTime() > new Date(request.dueAt).getTime(),
    ...(request.extension ? { extension: withoutActor(request.extension) } : {}),
    subject: { pseudonym: request.subject.pseudonym, identifiers: request.subject.identifiers },
    actions: ACTION_KEYS.flatMap((key) => {
      const record = request.actions[key];
      if (!record) return [];
      const { updatedAt: _u, ...view } = record;
      return [view];
    }),
  };
}

export function toView(
  request: ErasureRequest,
  events: AuditEvent[],
  now: Date,
  deliveries: AuditEvent[] = [],
  lanes: Record<string, AuditEvent[]> = {},
): RequestView {
  const laneNames = Object.keys(lanes).filter((lane) => lanes[lane]?.length);
  return {
    ...toSummary(request, now),
    integrity: integrityOf(verifyTrail(events, lanes)),
    events: events.map(viewEvent),
    ...(laneNames.length
      ? {
          lanes: laneNames.map((lane) => ({
            lane,
            chainId: laneChainId(request.id, lane),
            events: (lanes[lane] ?? []).map(viewEvent),
          })),
        }
      : {}),
    ...(deliveries.length
      ? {
          callbackDeliveries: {
            logId: deliveryLogId(request.id),
            integrity: integrityOf(verifyTrail(deliveries)),
            events: deliveries.map(viewEvent),
          },
        }
      : {}),
  };
}

function integrityOf(trail: ReturnType<typeof verifyTrail>): RequestView['integrity'] {
  return {
    chainValid: trail.valid,
    events: trail.events,
    ...(trail.brokenAt === undefined ? {} : { brokenAt: trail.brokenAt }),
    ...(trail.brokenLane === undefined ? {} : { brokenLane: trail.brokenLane }),
  };
}

const viewEvent = ({ seq, type, at, actor, data, key, prevHash, hash }: AuditEvent): ViewEvent => ({
  seq,
  type,
  at,
  actor,
  data,
  key,
  prevHash,
  hash,
});

/**
 * Cancels a request that has not begun erasing. The status change to `canceling`, the identity's destruction and
 * `cancel.requested` and `identity.destroyed` are one write: whatever happens after it (a crash, a timeout,
 * FirstPromoter down), the workflow can record nothing more and the request sweeper finishes the cancel. A repeated
 * cancel (of a request `canceling` or `canceled`) answers the request's view as the first did, and does nothing more:
 * no second restore, receipt or callback. A cancel once erasure began answers 409.
 */
export async function cancelErasureRequest(
  deps: Pick<RequestDeps, 'audit' | 'clock' | 'workflow'> & {
    requests: CancelRequestOperations & Pick<RequestRepository, 'transitionWithEvents'>;
    firstPromoter: FirstPromoterPort;
    receipts?: ReceiptIssuer;
    callbacks?: CallbackScheduler;
  },
  id: string,
  actor: string,
): Promise<RequestView> {
  if (!isRequestId(id)) throw new NotFoundError();
  const current = await deps.requests.get(id);
  if (!current) throw new NotFoundError();
  // The move, the identity's destruction and the events that record both: one write (finishCancel, which the sweeper
  // also runs, finds the events in the chain's head).
  const moved = await deps.requests.transitionWithEvents(id, CANCELABLE_STATUSES, 'canceling', {
    canceledAt: deps.clock.now().toISOString(),
    destroyIdentity: true,
    set: { canceledBy: actor },
    events: [
      { type: 'cancel.requested', actor, key: 'cancel.requested', data: {} },
      { type: 'identity.destroyed', actor, key: 'identity.destroyed', data: {} },
    ],
  });
  if (!moved) {
    // A repeated cancel (a client's retry after a timeout, a duplicate webhook) is answered as the first one was: the
    // request as it stands, `canceling` or `canceled`. It acts no more: the first cancel, or the sweeper, finishes it.
    const latest = await deps.requests.get(id);
    if (latest?.status === 'canceling' || latest?.status === 'canceled') return getRequestView(deps, id);
    throw new ConflictError(`The request is ${latest?.status ?? current.status} and can no longer be canceled`);
  }
  // Read after the move: the promoters the archive step recorded up to it are the ones to restore.
  const canceling = await deps.requests.get(id);
  if (!canceling) throw new NotFoundError();
  await finishCancel(deps, canceling, { stopWorkflow: true });
  return getRequestView(deps, id);
}

/**
 * The operations of the requests store that end a cancel ({@link finishCancel}), and no more: the functions that end
 * cancels (cancel-request, the archive step, the sweeper) bind these rather than the whole repository.
 */
export type CancelRequestOperations = Pick<
  RequestRepository,
  'get' | 'destroyIdentity' | 'forgetProviderIds' | 'transition' | 'recordAction' | 'findBySubject'
>;

type CancelDeps = Pick<RequestDeps, 'audit' | 'clock'> & {
  requests: CancelRequestOperations;
  firstPromoter: FirstPromoterPort;
  workflow?: WorkflowEngine;
  /** Issues the receipt of the canceled request before it is set `canceled`. */
  receipts?: ReceiptIssuer;
  /** Starts its completion callbacks (after the receipt, which they link to). */
  callbacks?: CallbackScheduler;
};

/**
 * Everything a cancel does after its status write: record it, stop the workflow, restore the promoters this request
 * archived (only those no other request of the person still holds), then end the trail with `request.canceled` and
 * set `canceled`: the sealing event is the last one the request ever gets. Idempotent (keyed events, idempotent
 * restore), so the sweeper runs it again for a cancel that did not finish; a failed restore is recorded and leaves
 * the request `canceling`. `archiveStepEnded`: the archive step itself finishes the cancel, so it can archive no more.
 */
export async function finishCancel(
  deps: CancelDeps,
  request: ErasureRequest,
  options: { stopWorkflow: boolean; archiveStepEnded?: boolean },
): Promise<{
  restore:
    | 'done'
    | 'failed'
    | 'awaiting-archive-step'
    | 'awaiting-archive-batch'
    | 'awaiting-restore-batch'
    | 'awaiting-receipt'
    | 'awaiting-callbacks';
  chainHead?: { seq: number; hash: string };
}> {
  const actor = request.canceledBy ?? 'workflow';
  await deps.audit.append(request.id, { type: 'cancel.requested', actor, key: 'cancel.requested', data: {} });
  // The cancel's status write destroyed it already; again here (idempotent) for a cancel that crashed in between,
  // which the sweeper finishes: the event is only ever recorded once the identity is gone.
  await deps.requests.destroyIdentity(request.id);
  await deps.audit.append(request.id, { type: 'identity.destroyed', actor, key: 'identity.destroyed', data: {} });
  if (options.stopWorkflow && deps.workflow) {
    try {
      await deps.workflow.stop(request.id);
    } catch (error) {
      // The workflow stops itself: its next step finds the request canceled.
      const noted = await deps.audit
        .append(request.id, {
          type: 'workflow.stop_failed',
          actor,
          key: 'workflow.stop_failed',
          data: { error: error instanceof Error ? error.name : 'unknown' },
        })
        .catch((appendError: unknown) => {
          // Sealed: the sweeper (or the archive step) finished this cancel while the stop was tried; nothing is left.
          if (appendError instanceof AuditTrailSealedError) return undefined;
          throw appendError;
        });
      if (!noted) return { restore: 'done' };
    }
  }
  const ids = promotersOf(request);
  let sent: Batch | undefined;
  // Whether this finisher restored after reading the step at rest (`archiveIdleSince` in the request it read): then,
  // as long as that same rest is still recorded (no try planned since), no archive can have followed the restore. An
  // order given by the reads, not by comparing two Lambdas' clocks.
  let restoredAfterRest = false;
  try {
    if (ids.length > 0 && (await awaitingArchiveBatch(deps, request, actor, archiveBatchOf(request)))) {
      return { restore: 'awaiting-archive-batch' };
    }
    const last = ids.length > 0 ? await restoreBatchState(deps.firstPromoter, request) : undefined;
    if (last === 'running') return { restore: 'awaiting-restore-batch' };
    // A restore batch that completed is not sent again only if nothing of the archive step could land after it: it
    // was sent once the step had settled. Otherwise (failed, stopped, partly failed, none yet) the restore runs again.
    const restoredAt = request.actions['firstpromoter.promoters']?.updatedAt;
    const lastHolds =
      last === 'completed' && restoredAt !== undefined && archiveStepSettled(request, restoredAt, { sentAt: true });
    if (ids.length > 0 && !lastHolds) {
      sent = await restoreArchivedPromoters(deps, request, actor, ids);
      restoredAfterRest = request.archiveIdleSince !== undefined;
    }
  } catch {
    // Recorded by restoreArchivedPromoters as a failed action; the cancel stays unfinished for the sweeper.
    return { restore: 'failed' };
  }
  const current = (await deps.requests.get(request.id)) ?? request;
  if (current.status !== 'canceling') return { restore: 'done' };
  const restore = current.actions['firstpromoter.promoters'];
  // Another finisher's restore, made again after this one's, has failed since (or an archive batch was recorded under
  // the cancel): `canceled` is final, so the cancel ends only on a restore; the sweeper acts on the record as it is.
  if (ids.length > 0 && restore?.outcome !== 'restored') return { restore: 'failed' };
  // The restore the record states (this one's, or another finisher's since) holds only if the step could land no
  // archive after it was sent: the step coming to rest after that, though before now, may have archived them again.
  const settled =
    restore?.outcome === 'restored'
      ? (restoredAfterRest && current.archiveIdleSince === request.archiveIdleSince) ||
        archiveStepSettled(current, restore.updatedAt, { sentAt: true })
      : archiveStepSettled(current, deps.clock.now().toISOString());
  if (!options.archiveStepEnded && !settled) return { restore: 'awaiting-archive-step' };
  // A restore of more than 5 promoters runs on at FirstPromoter as a batch, and may still fail: the sweeper's next run
  // polls it and ends the cancel once it completed (or restores again).
  if (sent && summarizeBatch(sent).state === 'running') return { restore: 'awaiting-restore-batch' };
  await deps.requests.forgetProviderIds(request.id);
  await appendExtensionEvent(deps, current);
  const last = await deps.audit.append(request.id, {
    type: 'request.canceled',
    actor,
    key: 'request.canceled',
    data: {},
  });
  try {
    await deps.receipts?.issue(request.id);
  } catch {
    // Left `canceling`, as a failed restore is: the request sweeper finishes it, receipt first.
    return { restore: 'awaiting-receipt' };
  }
  // Before the final status: should the start fail, the request stays `canceling` and the sweeper finishes the cancel,
  // this included. The callback states the end once the trail is sealed (above), the status being written or not.
  try {
    await deps.callbacks?.schedule(request.id);
  } catch {
    // Said as what it is, not thrown: the restore is done and recorded, so a cancel route must not answer an error
    // for a cancel it recorded, nor the sweeper count it as a failed restore.
    return { restore: 'awaiting-callbacks' };
  }
  await deps.requests.transition(request.id, ['canceling'], 'canceled');
  return { restore: 'done', chainHead: { seq: last.seq, hash: last.hash } };
}

/** Longest a workflow step can still be running after its request was canceled (the task functions time out sooner). */
const STEP_GRACE_MS = 15 * 60_000;

/**
 * Whether the archive step can no longer archive anything: it never planned (and cannot now: planning requires an open
 * request), it planned nothing, it recorded an outcome before the cancel (it, or the read-back after it, ended), its
 * last try ended with nothing left in flight (`archiveIdleSince`), or it has had time to end. Until then a cancel's
 * restore may have run before an in-flight archive call landed, so the cancel stays unfinished and the restore is
 * repeated (idempotently). `at`: now (ISO 8601), or, with `sentAt`, when an earlier restore was sent.
 */
function archiveStepSettled(request: ErasureRequest, at: string, asked: { sentAt?: boolean } = {}): boolean {
  const plan = request.plans?.['firstpromoter.promoters'];
  if (!plan || plan.ids.length === 0 || request.archivedPromoterIds) return true;
  // Its last try ended with every request it sent answered, and no try has planned since: it waits (a retry, a
  // deferral) with nothing in flight, and the workflow's stop keeps it from trying again. Asked of a restore sent at
  // `at`, only at rest before it: an archive landing before the step came to rest may have followed it. The step's
  // time and the restore's come from different Lambdas' clocks: only clearly before counts.
  const idle = request.archiveIdleSince;
  if (idle !== undefined && (asked.sentAt ? clearlyBefore(idle, at) : idle <= at)) return true;
  // Recorded before the cancel: by the step or its read-back (after the cancel, only the cancel's finishers record,
  // restores and their failures, on their own clocks: a record within the clocks' difference of the cancel may be one).
  const recorded = request.actions['firstpromoter.promoters']?.updatedAt;
  if (recorded !== undefined && request.canceledAt !== undefined && clearlyBefore(recorded, request.canceledAt)) {
    return true;
  }
  return new Date(at).getTime() - new Date(request.canceledAt ?? 0).getTime() > STEP_GRACE_MS;
}

/**
 * Restores the promoters of a canceled request that no other request of the same person holds; shared by the cancel
 * and by an archive step that lost the race with a cancel. A request of the person that began holding one while the
 * restore ran gets it archived again at once. Records `restored` (with how many were left archived, and why) only
 * while the request is `canceling`.
 * @returns the restore's batch (running on at FirstPromoter above 5 promoters), or undefined when none was sent
 */
export async function restoreArchivedPromoters(
  deps: Pick<RequestDeps, 'audit' | 'clock'> & {
    requests: Pick<RequestRepository, 'recordAction' | 'findBySubject'>;
    firstPromoter: FirstPromoterPort;
  },
  request: ErasureRequest,
  actor: string,
  promoterIds: readonly number[],
): Promise<Batch | undefined> {
  if (promoterIds.length === 0) return undefined;
  const key = 'firstpromoter.promoters' as const;
  const guard = { whileIn: ['canceling'] as const };
  // A `restored` record's time is when its attempt began, before any call was sent: what the archive step's rest is
  // compared with (archiveStepSettled), since an archive that landed after the send undoes it, recorded or not.
  const attemptBegan = deps.clock.now().toISOString();
  // The record this attempt read: a `restored` there is an earlier attempt's, which this one makes again.
  const read = request.actions[key];
  const heldByOthers = async (ids: readonly number[]) =>
    promotersHeldByOthers(await otherRequestsOfSubject(deps.requests, request), ids, {
      endedSince: request.plans?.[key]?.at ?? request.receivedAt,
      linked: await requestsLinkedBy(deps.requests, request),
    });
  // Promoters a call of this attempt restored (answered completed) before a later call failed: a failure is recorded
  // with what is still to restore, not with those FirstPromoter holds active again.
  let restoredBeforeFailure = 0;
  // Those this attempt is to restore, once known: promoters another request holds are left archived on purpose, so a
  // failure does not count them as still to restore (every id, while who holds what is not known yet).
  let toRestoreCount = promoterIds.length;
  try {
    const held = await heldByOthers(promoterIds);
    const toRestore = promoterIds.filter((id) => !held.has(id));
    toRestoreCount = toRestore.length;
    // Five at a time, done when FirstPromoter answers: the check of who holds them now must come after the restore
    // landed, and the re-archive below must not be overtaken by a restore batch still running.
    const batches = await inFives(async (ids) => {
      const answer = await deps.firstPromoter.restorePromoters(ids);
      if (summarizeBatch(answer).state === 'completed') restoredBeforeFailure += ids.length;
      return answer;
    }, toRestore);
    const unfinished = batches.find((b) => ['failed', 'stopped', 'partial'].includes(summarizeBatch(b).state));
    if (unfinished) {
      throw new Error(`restore batch ${unfinished.id} ended ${unfinished.status} (${unfinished.failed_count} failed)`);
    }
    // One still running (not documented at 5 ids or fewer) is the one the cancel waits for.
    const batch = batches.find((b) => summarizeBatch(b).state === 'running') ?? batches.at(-1);
    const heldNow = toRestore.length > 0 ? await heldByOthers(toRestore) : new Set<number>();
    // Those held are archived (again) whatever this attempt restored: an earlier attempt may have restored them before
    // their holder planned, and failed at this very re-archive; the note below says they stay archived, so they must be.
    const keep = [...held, ...heldNow];
    await inFives((ids) => deps.firstPromoter.archivePromoters(ids), keep);
    const restored = toRestore.length - heldNow.size;
    const kept = held.size + heldNow.size;
    // Ids only planned (promotersOf): the cancel came before the archive's answer was recorded, or the archive never
    // reached FirstPromoter. Restored all the same, and the record says so instead of counting them as undone archives.
    const recordedArchived = new Set(request.archivedPromoterIds ?? []);
    const unrecorded = toRestore.filter((id) => !heldNow.has(id) && !recordedArchived.has(id)).length;
    const notes = [
      ...(kept > 0 ? [`${kept} promoter(s) left archived: another request of this person holds them`] : []),
      ...(unrecorded > 0
        ? [
            `${unrecorded} of them had no archive recorded by this request (the cancel came before the archive's ` +
              'answer was recorded, or the archive never reached FirstPromoter): restored in case it did; restoring ' +
              'an active promoter changes nothing',
          ]
        : []),
    ];
    const recorded = await deps.requests.recordAction(
      request.id,
      key,
      {
        ...ACTIONS[key],
        outcome: 'restored',
        count: restored,
        ...(batch ? { batchId: batch.id } : {}),
        ...(notes.length ? { notes } : {}),
        updatedAt: attemptBegan,
      },
      guard,
    );
    if (!recorded) return batch;
    await deps.audit.append(request.id, {
      type: 'promoters.restored',
      actor,
      // One per restore that landed (its batch), not one per cancel: a restore made again after a failed one (an
      // archive may have landed after the first) must reach the trail, or its last word would be that failure.
      key: batch ? `promoters.restored:${batch.id}` : await keyAfterLast(deps.audit, request.id, 'promoters.restored'),
      data: {
        provider: 'firstpromoter',
        count: restored,
        keptArchived: kept,
        ...(unrecorded > 0 ? { noArchiveRecorded: unrecorded } : {}),
        ...(batch ? { batchId: batch.id, batchStatus: batch.status } : {}),
      },
    });
    return batch;
  } catch (error) {
    const reason = error instanceof Error ? redact(error.message) : 'unknown error';
    // A cancel and a sweep may restore at once: one's failure must not hide the other's success, recorded after this
    // attempt read the request (even before it began: that finisher may seal the trail on it at once). The `restored`
    // this attempt read is an earlier attempt's, which it makes again because an archive may have landed after it:
    // replaced, or the record would say restored while FirstPromoter holds them archived.
    const toRestoreStill = toRestoreCount - restoredBeforeFailure;
    const partly = restoredBeforeFailure > 0 ? ` after ${restoredBeforeFailure} of ${toRestoreCount} restored` : '';
    const recorded = await deps.requests.recordAction(
      request.id,
      key,
      {
        ...ACTIONS[key],
        outcome: 'failed',
        // What is still to restore, as far as is known (as every `failed` count): the next attempt restores them all.
        count: toRestoreStill,
        errors: [`restore failed${partly} (retried hourly): ${reason}`],
        updatedAt: deps.clock.now().toISOString(),
      },
      {
        ...guard,
        unlessOutcome: 'restored',
        ...(read?.outcome === 'restored' ? { outcomeRead: read.updatedAt } : {}),
      },
    );
    // Keyed: an outage retried hourly adds one event, not one per attempt; the action record holds the latest reason.
    if (recorded) {
      // One per restore that landed before it, though: a failure after a restore made again must follow that
      // restore's event, or the trail's last word would be the success.
      await deps.audit.append(request.id, {
        type: 'promoters.restore_failed',
        actor,
        key: await keyAfterLast(deps.audit, request.id, 'promoters.restore_failed'),
        data: {
          provider: 'firstpromoter',
          count: toRestoreStill,
          ...(restoredBeforeFailure > 0 ? { restoredBeforeFailure } : {}),
          error: reason,
        },
      });
    }
    throw error;
  }
}

/**
 * The idempotency key of a restore's outcome event (`promoters.restored` without a batch to name it by, or
 * `promoters.restore_failed`), read from the trail on these paths only: the same for every attempt since the last
 * event of the other outcome (an outage retried hourly adds one failure; a restore that again restored nothing, every
 * promoter being held by another request, one success), and new after each one, so the trail's last word on the
 * restore is always the outcome the record holds. After a restore that named its batch, the key names that batch, as
 * keys written before the restore without a batch had one did.
 */
async function keyAfterLast(
  audit: Pick<AuditLog, 'list'>,
  requestId: string,
  type: 'promoters.restored' | 'promoters.restore_failed',
): Promise<string> {
  const other = type === 'promoters.restored' ? 'promoters.restore_failed' : 'promoters.restored';
  const last = (await audit.list(requestId)).filter((e) => e.type === other).at(-1);
  if (!last) return type;
  const batchId = last.data.batchId;
  return batchId === undefined ? `${type}:after-event:${last.seq}` : `${type}:after:${String(batchId)}`;
}

/** The requests of a subject, found by the auditor's identifier through its pseudonym (the identifier is not stored). */
export async function findRequestsBySubject(
  deps: Pick<RequestDeps, 'audit' | 'clock' | 'pseudonymKey'> & { requests: Pick<RequestRepository, 'findBySubject'> },
  identity: Identity,
): Promise<{
  pseudonyms: Partial<Record<IdentifierKind, string>>;
  requests: Omit<RequestView, 'events' | 'lanes'>[];
}> {
  const pseudonyms: Partial<Record<IdentifierKind, string>> = {};
  if (identity.email) pseudonyms.email = identifierPseudonym(deps.pseudonymKey, 'email', identity.email);
  if (identity.externalId) {
    pseudonyms.externalId = identifierPseudonym(deps.pseudonymKey, 'externalId', identity.externalId);
  }
  const found = new Map<string, ErasureRequest>();
  for (const [kind, pseudonym] of Object.entries(pseudonyms) as [IdentifierKind, string][]) {
    for (const request of await deps.requests.findBySubject(kind, pseudonym)) found.set(request.id, request);
  }
  const now = deps.clock.now();
  const requests = await Promise.all(
    [...found.values()]
      .sort((a, b) => a.receivedAt.localeCompare(b.receivedAt))
      .map(async (request) => {
        const [events, lanes] = await Promise.all([deps.audit.list(request.id), deps.audit.lanes(request.id)]);
        const { events: _events, lanes: _lanes, ...view } = toView(request, events, now, [], lanes);
        return view;
      }),
  );
  return { pseudonyms, requests };
}

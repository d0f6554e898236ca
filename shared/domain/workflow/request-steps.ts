import { AuditTrailSealedError } from '#shared/errors';
import type { ChainLink } from '#shared/ports/audit';
import { extendedEvent } from '../deadline-extension.ts';
import { receivedEvent } from '../erasure-requests.ts';
import {
  ACTION_KEYS,
  type ActionOutcome,
  ERASURE_ACTIONS,
  type ErasureRequest,
  type NewAuditEvent,
  OPEN_STATUSES,
  type RequestStatus,
} from '../model.ts';
import { ACTOR, appendActionEvent, load, type RequestInput, type RequestTaskDeps, record } from './task-context.ts';

/** Statuses in which the workflow goes on: open, or closing (a resumed run then reaches Finalize and ends it). */
const GOES_ON: readonly RequestStatus[] = [...OPEN_STATUSES, 'closing'];

/**
 * First step: checks the request may proceed and enters the waiting period (a window in which the sender may cancel).
 * On a resumed run it returns only what is left of the window. Returns `lastEvent`, the head of the request's chain
 * after `waiting.started` (not personal: an event's place and hash; `chainHead` names only the anchor a request's end
 * logs), which the workflow's state carries to `beginErasure`. With the head intake left (`lastEvent`) and the receipt
 * time in its input, the common case is one write and no read.
 */
export async function loadRequest(
  deps: RequestTaskDeps,
  input: RequestInput & { receivedAt?: string; lastEvent?: ChainLink },
) {
  const { requestId } = input;
  const windowOf = (receivedAt: string) => {
    const waitEnds = new Date(receivedAt).getTime() + deps.waitingPeriodSeconds * 1000;
    const waitSeconds = Math.max(0, Math.ceil((waitEnds - deps.clock.now().getTime()) / 1000));
    const started: NewAuditEvent = {
      type: 'waiting.started',
      actor: ACTOR,
      key: 'waiting.started',
      data: { waitingPeriodSeconds: deps.waitingPeriodSeconds, until: new Date(waitEnds).toISOString() },
    };
    return { waitSeconds, waitUntil: new Date(waitEnds).toISOString(), started };
  };
  if (input.lastEvent && input.receivedAt) {
    // Intake's `request.received` is the head it carried: the move and `waiting.started` hold only on it (a request
    // redelivered, resumed or canceled since is read below instead).
    const { waitSeconds, waitUntil, started } = windowOf(input.receivedAt);
    const links = await deps.requests.transitionWithEvents(requestId, ['received'], 'waiting', {
      events: [started],
      after: input.lastEvent,
    });
    const lastEvent = links?.at(-1);
    if (lastEvent) {
      return {
        requestId,
        proceed: true,
        status: 'waiting' as const,
        waitSeconds,
        waitUntil,
        lastEvent: linkOf(lastEvent),
      };
    }
  }
  let request = await load(deps, requestId);
  if (!GOES_ON.includes(request.status)) {
    return { requestId, proceed: false, status: request.status, waitSeconds: 0 };
  }
  const { waitSeconds, waitUntil, started } = windowOf(request.receivedAt);
  // Intake stores `request.received` with the request; here for a request stored by an earlier version that crashed
  // between its two writes (keyed: found in the chain's head otherwise, without a write).
  const events = [receivedEvent(request), started];
  let lastEvent: ChainLink | undefined;
  if (request.status === 'received') {
    // The common case: the move and the events that record it in one write.
    lastEvent = (await deps.requests.transitionWithEvents(requestId, ['received'], 'waiting', { events }))?.at(-1);
    if (lastEvent) request = { ...request, status: 'waiting' };
    else request = await load(deps, requestId);
  }
  if (!lastEvent && GOES_ON.includes(request.status)) {
    // A resumed run: keyed, and `waiting.started` only while waiting, so a run that crashed before appends what is
    // missing. A cancel that ended the trail in the meantime makes the append refused: the request is over.
    try {
      await deps.audit.append(requestId, receivedEvent(request));
      if (request.status === 'waiting') lastEvent = await deps.audit.append(requestId, started);
    } catch (error) {
      if (!(error instanceof AuditTrailSealedError)) throw error;
      request = await load(deps, requestId);
    }
  }
  const proceed = GOES_ON.includes(request.status);
  return {
    requestId,
    proceed,
    status: request.status,
    waitSeconds: request.status === 'waiting' ? waitSeconds : 0,
    ...(request.status === 'waiting' ? { waitUntil } : {}),
    ...(lastEvent ? { lastEvent: linkOf(lastEvent) } : {}),
  };
}

/**
 * What is left of the waiting period once the archive step has ended: its end (`waitUntil`, receipt + the period,
 * from {@link loadRequest}) minus now, in whole seconds, at least 0. The period is counted from the request's receipt,
 * so the time the archive spent (retrying a failing provider, waiting for the rate budget) comes out of it rather than
 * delaying the erasure by as much. Reads and writes nothing.
 * @returns seconds for the WaitingPeriod state (`$.load.waitSeconds`)
 */
export async function remainingWait(
  deps: Pick<RequestTaskDeps, 'clock'>,
  input: { waitUntil?: string },
): Promise<number> {
  const until = Date.parse(input.waitUntil ?? '');
  if (Number.isNaN(until)) return 0;
  return Math.max(0, Math.ceil((until - deps.clock.now().getTime()) / 1000));
}

/** An event's place and hash alone (what goes into the workflow's state). */
const linkOf = ({ seq, hash }: ChainLink): ChainLink => ({ seq, hash });

/**
 * Ends the waiting period: only a request still waiting moves to processing, with `erasure.started` in the same write;
 * a canceled one stops here. The chain head `loadRequest` left in the workflow's state (`lastEvent`) spares the read
 * of the request (the actions' events go to their lanes, so only a cancel or an extension moves that head meanwhile:
 * then the refused write returns the item and is made again on it).
 */
export async function beginErasure(
  deps: RequestTaskDeps,
  { requestId, load: loaded }: RequestInput & { load?: { lastEvent?: ChainLink } },
) {
  const started: NewAuditEvent = { type: 'erasure.started', actor: ACTOR, key: 'erasure.started', data: {} };
  const moved = await deps.requests.transitionWithEvents(requestId, ['waiting', 'received'], 'processing', {
    events: [started],
    ...(loaded?.lastEvent ? { after: loaded.lastEvent } : {}),
  });
  if (moved) return { requestId, proceed: true, status: 'processing' as const };
  const request = await load(deps, requestId);
  // A resumed run of a request already closing goes on to Finalize through the erasure steps, which act no more.
  const proceed = request.status === 'processing' || request.status === 'closing';
  // Keyed, and whenever processing: a request moved by an earlier version, which wrote the two apart, gets it here.
  if (request.status === 'processing') await deps.audit.append(requestId, started);
  return { requestId, proceed, status: request.status };
}

/**
 * Ends a request. First it moves the request from `processing` to `closing` in one conditional write: from then on the
 * store refuses every outcome a step still running would record, so what finalize reads next is final. It then marks
 * actions cut short as failed, appends any action event a step did not get to append, decides the status from that
 * read, destroys the stored identity, appends `identity.destroyed` and the sealing `request.completed` (the audit log
 * refuses anything after it), issues the signed receipt, starts the completion callbacks, and only then sets the final
 * status, so a reader who sees a final status also sees its events and its receipt, and no end goes unannounced. Every write is keyed or conditional: a retry after a crash at any point completes what is missing with the
 * same values (the first `request.completed` decides them) and returns the same chain head.
 */
export async function finalizeRequest(deps: RequestTaskDeps, { requestId }: RequestInput) {
  // The common case first: a request processing moves to closing with one write, which returns it; any other is read.
  let request = (await deps.requests.transition(requestId, ['processing'], 'closing')) ?? (await load(deps, requestId));
  const ended =
    request.status === 'completed' || request.status === 'partially_completed' || request.status === 'failed';
  if (request.status !== 'closing' && !ended) return { requestId, status: request.status };
  const recorded = (await deps.audit.find(requestId, 'request.completed'))?.data;

  if (request.status === 'closing') {
    // An action still pending here had its branch cut short (the Parallel state's Catch): it did not finish.
    let recordedHere = false;
    for (const key of ERASURE_ACTIONS) {
      const action = request.actions[key];
      if (action?.outcome !== 'pending') continue;
      recordedHere = true;
      await record(
        deps,
        request,
        key,
        {
          ...action,
          outcome: 'failed',
          errors: [
            `the workflow ended before this action finished${action.batchId ? '; its batch may still run' : ''}`,
          ],
        },
        { whileIn: ['closing'] },
      );
    }
    // `closing` stops every other writer of outcomes: only what was recorded here can have changed since the read.
    if (recordedHere) request = await load(deps, requestId);
    // A step whose outcome landed just before `closing` may not have appended its event yet: appended here (keyed, so
    // once), before the trail ends; the step's own append then finds it.
    for (const key of ACTION_KEYS) {
      const action = request.actions[key];
      if (action) await appendActionEvent(deps, request, key, action);
    }
  }
  const status =
    (recorded?.status as RequestStatus | undefined) ??
    (request.status === 'closing' ? finalStatus(request) : request.status);
  const completedAt =
    (recorded?.completedAt as string | undefined) ?? request.completedAt ?? deps.clock.now().toISOString();

  // Provider record ids are personal data too (they point at the person's records): kept no longer than needed, and
  // forgotten in the write that destroys the identity. The same write appends `identity.destroyed`, an extension
  // whose route crashed before its event (keyed: once), and the sealing `request.completed`: the audit log refuses
  // anything after it.
  const links = await deps.requests.destroyIdentity(requestId, {
    forgetProviderIds: true,
    events: [
      { type: 'identity.destroyed', actor: ACTOR, key: 'identity.destroyed', data: {} },
      ...(request.extension ? [extendedEvent({ ...request, extension: request.extension })] : []),
      {
        type: 'request.completed',
        actor: ACTOR,
        key: 'request.completed',
        data: { status, completedAt, dueAt: request.dueAt, withinDeadline: completedAt <= request.dueAt },
      },
    ],
  });
  const last = links.at(-1) as ChainLink;
  // Before the final status: whoever sees a request ended can fetch its receipt. A failure fails the step, which the
  // state machine retries; the receipt already signed is never signed again.
  await deps.receipts?.issue(requestId);
  // Before the final status, as a cancel does: a failed start fails this task, which is retried (and is idempotent up
  // to here), and a process killed here (the local runtime) leaves the request `closing`, which a restart resumes,
  // rather than ended with no callback started. The callback states the end the sealing event records (the status
  // written next, from that event, by this run or a resumed one), never a status of its own.
  await deps.callbacks?.schedule(requestId);
  await deps.requests.transition(requestId, ['closing'], status, { completedAt });
  // The chain head leaves the database in the task's log line and the execution history, both kept apart from the
  // tables: rewriting the events table afterwards, even consistently re-hashed, would no longer contain it.
  return { requestId, status, chainHead: { seq: last.seq, hash: last.hash } };
}

/**
 * `completed` when every erasure ended deleted or not found and the promoters were archived (or there were none, or
 * all were archived already); `failed` when every erasure failed; `partially_completed` otherwise. A missing outcome
 * counts as failed, and so does any outcome that does not say the records are gone (`skipped` is never an erasure).
 */
export function finalStatus(request: ErasureRequest): RequestStatus {
  const erasures = ERASURE_ACTIONS.map((key) => request.actions[key]?.outcome ?? 'failed');
  const erased = (o: ActionOutcome) => o === 'deleted' || o === 'not_found';
  const archive = request.actions['firstpromoter.promoters']?.outcome ?? 'failed';
  const archived = archive === 'archived' || archive === 'not_found' || archive === 'skipped';
  if (erasures.every((o) => o === 'failed')) return 'failed';
  return erasures.every(erased) && archived ? 'completed' : 'partially_completed';
}

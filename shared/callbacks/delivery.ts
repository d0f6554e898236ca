import { createHash } from 'node:crypto';
import { type ErasureRequest, FINAL_STATUSES, type RequestStatus } from '#shared/domain/model';
import { type AuditLog, type Clock, type RequestRepository, systemClock } from '#shared/ports/audit';

/**
 * Completion callbacks (Standard Webhooks), sent when a request ends. The request's own trail is sealed at its end and
 * nothing is written to it afterwards; what happens to its announcement is recorded in a trail of its own, the
 * request's *delivery log*: the same append-only, hash-chained events table under the partition
 * `callback-deliveries/<request id>`, with `callback.delivered` and `callback.failed` per target. It never touches the
 * request or its trail, so a callback can neither change an erasure's status nor reopen its record.
 */
export const deliveryLogId = (requestId: string): string => `callback-deliveries/${requestId}`;

/** The body POSTed to every target (issue 9): nothing about the person, only the request's own facts. */
export interface CallbackPayload {
  id: string;
  reference: string | null;
  status: RequestStatus;
  /** When the request ended: for a canceled one, its `canceledAt` (the callback's field name is fixed by issue 9). */
  completedAt: string;
  /** `GET /v1/erasure-requests/{id}/receipt` on the service's public base URL (audit token required). */
  receiptUrl: string;
}

/** A callback target as recorded: never its full URL, whose path or query may hold the receiver's own secret. */
export interface CallbackTarget {
  url: string;
  /** SHA-256 of the URL, first 12 hex digits: tells targets apart in the log. */
  fingerprint: string;
  /** Scheme, host and port. */
  origin: string;
}

export const callbackTarget = (url: string): CallbackTarget => ({
  url,
  fingerprint: createHash('sha256').update(url).digest('hex').slice(0, 12),
  origin: new URL(url).origin,
});

/**
 * Starts the callbacks of a request that is ending: idempotent (an execution named by the request id), so every place
 * a request ends may call it, and call it again on a retry.
 */
export interface CallbackScheduler {
  schedule(requestId: string): Promise<void>;
}

/** What a POST to a target came to: delivered (2xx), or why not (a status, a network error name), non-personal. */
export type SendResult = { delivered: true; status: number } | { delivered: false; reason: string };

/** Sends one signed callback. The message id is the same on every attempt, so a receiver can drop a repeat. */
export interface CallbackSender {
  send(target: CallbackTarget, messageId: string, payload: CallbackPayload): Promise<SendResult>;
}

export interface CallbackDeps {
  requests: Pick<RequestRepository, 'get'>;
  audit: AuditLog;
  sender: CallbackSender;
  targets: readonly CallbackTarget[];
  /** Base of `receiptUrl`: PUBLIC_BASE_URL, or the API's own address. */
  publicBaseUrl: string;
  /** Judges a resumed execution's `retriesEndAt` (default: the system clock). */
  clock?: Clock;
}

/**
 * Not every target took the callback (yet): the state machine retries the task with backoff (1 minute doubling to
 * an hour, then hourly, for a day), then records the targets still failing as `callback.failed`.
 */
export class CallbackNotDeliveredError extends Error {
  override name = 'CallbackNotDeliveredError';
}

/** The request has not reached its final status yet (its end is being recorded): the same retries wait for it. */
export class RequestNotEndedError extends CallbackNotDeliveredError {
  override name = 'CallbackNotDeliveredError';
}

/**
 * A resumed execution (the local runtime's, after a restart) reached the end of the retries its first run had and a
 * target still has not taken the callback: not retried (the Retry lists only {@link CallbackNotDeliveredError}), so
 * the Catch records `callback.failed` now, a day after the callback was scheduled, as the first run would have.
 */
export class CallbackRetriesExhaustedError extends Error {
  override name = 'CallbackRetriesExhaustedError';
}

const ACTOR = 'callbacks';

/**
 * Delivers the callback of an ended request to every target that has no outcome in the delivery log yet, and records
 * each delivery. Idempotent: a retry, or a second execution, sends only to targets still waiting.
 * @param input.retriesEndAt ISO 8601: set by a runtime that resumes a callback execution anew (its retry count starts
 *   again), the time its first run's retries ended; past it, a failure is final
 * @throws CallbackNotDeliveredError while a target has not taken it (or the request's end is not yet recorded)
 * @throws CallbackRetriesExhaustedError instead, once past `retriesEndAt`
 */
export async function deliverCallbacks(
  deps: CallbackDeps,
  { requestId, retriesEndAt }: { requestId: string; retriesEndAt?: string },
) {
  const notDelivered = (message: string, NotYet: typeof CallbackNotDeliveredError) => {
    const now = (deps.clock ?? systemClock).now().getTime();
    const ends = retriesEndAt === undefined ? Number.NaN : Date.parse(retriesEndAt);
    return now >= ends ? new CallbackRetriesExhaustedError(message) : new NotYet(message);
  };
  const request = await deps.requests.get(requestId);
  if (!request) return { requestId, delivered: 0, pending: 0 };
  const end = await endOf(deps.audit, request);
  if (!end) {
    throw notDelivered(`${requestId} is ${request.status}: its callback waits for its end`, RequestNotEndedError);
  }
  const payload: CallbackPayload = {
    id: request.id,
    reference: request.reference ?? null,
    status: end.status,
    completedAt: end.at,
    receiptUrl: `${deps.publicBaseUrl.replace(/\/$/, '')}/v1/erasure-requests/${request.id}/receipt`,
  };
  const logId = deliveryLogId(requestId);
  const settled = settledTargets(await deps.audit.list(logId));
  const waiting = deps.targets.filter((t) => !settled.has(t.fingerprint));
  const failures: string[] = [];
  await Promise.all(
    waiting.map(async (target) => {
      const result = await deps.sender.send(target, `callback_${requestId}`, payload);
      if (!result.delivered) {
        failures.push(`${target.fingerprint} (${result.reason})`);
        return;
      }
      await deps.audit.append(logId, {
        type: 'callback.delivered',
        actor: ACTOR,
        key: `callback.delivered:${target.fingerprint}`,
        data: { target: target.fingerprint, origin: target.origin, status: payload.status, httpStatus: result.status },
      });
    }),
  );
  if (failures.length > 0) {
    throw notDelivered(
      `${failures.length} of ${deps.targets.length} callback target(s) not delivered: ${failures.sort().join(', ')}`,
      CallbackNotDeliveredError,
    );
  }
  return { requestId, delivered: waiting.length, pending: 0 };
}

/**
 * How the request ended, once its end is recorded: its final status, or, while that status is still being written
 * (finalize and a cancel start the callbacks just before it, so a process killed in between loses none), the sealing
 * event of its trail, from which the final status is written (`request.completed` holds it; a cancel's is `canceled`).
 * A canceled request records when it ended as `canceledAt`, a finished one as `completedAt`.
 */
async function endOf(
  audit: Pick<AuditLog, 'seal'>,
  request: ErasureRequest,
): Promise<{ status: RequestStatus; at: string } | undefined> {
  const at = request.completedAt ?? request.canceledAt;
  if (FINAL_STATUSES.includes(request.status)) return at ? { status: request.status, at } : undefined;
  if (request.status !== 'closing' && request.status !== 'canceling') return undefined;
  const seal = await audit.seal(request.id);
  if (seal?.type === 'request.canceled' && request.canceledAt) return { status: 'canceled', at: request.canceledAt };
  const { status, completedAt } = seal?.type === 'request.completed' ? seal.data : {};
  return typeof status === 'string' &&
    FINAL_STATUSES.includes(status as RequestStatus) &&
    typeof completedAt === 'string'
    ? { status: status as RequestStatus, at: completedAt }
    : undefined;
}

/**
 * After the last retry: records `callback.failed` for each target that never took the callback, with the last
 * reason. The erasure itself is untouched: a failed callback never changes its status.
 */
export async function recordCallbacksFailed(
  deps: Pick<CallbackDeps, 'audit' | 'targets'>,
  input: { requestId: string; failure?: { Error?: string; Cause?: string } },
) {
  const logId = deliveryLogId(input.requestId);
  const settled = settledTargets(await deps.audit.list(logId));
  const failed = deps.targets.filter((t) => !settled.has(t.fingerprint));
  const cause = lastReason(input.failure);
  for (const target of failed) {
    await deps.audit.append(logId, {
      type: 'callback.failed',
      actor: ACTOR,
      key: `callback.failed:${target.fingerprint}`,
      data: {
        target: target.fingerprint,
        origin: target.origin,
        error: input.failure?.Error ?? 'unknown',
        reason: cause,
      },
    });
  }
  return { requestId: input.requestId, failed: failed.length };
}

/** Targets with an outcome in the delivery log: delivered, or given up on. */
function settledTargets(events: ReadonlyArray<{ type: string; data: Record<string, unknown> }>): Set<string> {
  return new Set(
    events
      .filter((e) => e.type === 'callback.delivered' || e.type === 'callback.failed')
      .map((e) => String(e.data.target)),
  );
}

/**
 * The error message of the last attempt, from the Catch's `Cause`: in AWS Lambda's JSON of the error
 * (`errorMessage`), locally the message itself. Our own text (target fingerprints and HTTP statuses), capped.
 */
function lastReason(failure: { Cause?: string } | undefined): string {
  const cause = failure?.Cause;
  if (!cause) return 'unknown';
  try {
    const message = (JSON.parse(cause) as { errorMessage?: unknown }).errorMessage;
    return typeof message === 'string' ? message.slice(0, 300) : 'unknown';
  } catch {
    return cause.slice(0, 300);
  }
}

import * as z from 'zod/mini';
import { AppError, ConflictError, NotFoundError, ValidationError } from '#shared/errors';
import type { AuditLog, Clock, RequestRepository } from '#shared/ports/audit';
import { deadlineFor } from './dates.ts';
import { invalidFieldsError, inWords } from './invalid-fields.ts';
import { type ErasureRequest, type NewAuditEvent, OPEN_STATUSES } from './model.ts';
import { isRequestId } from './request-ids.ts';

/**
 * Why a controller may take longer (GDPR Art. 12(3)): "where necessary, taking into account the complexity and number
 * of the requests". Those two grounds, and nothing else, are accepted.
 */
export const EXTENSION_REASONS = ['complexity', 'number_of_requests'] as const;
export type ExtensionReason = (typeof EXTENSION_REASONS)[number];

/**
 * The note is kept in clear in the audit trail for years, so, like `reference`, it has no room for an email address
 * (`@` is refused) and is short: a ticket id or a few words on the reason, never who the person is.
 */
export const EXTENSION_NOTE_PATTERN = /^[A-Za-z0-9 \-_.:#/,()]{1,160}$/;

/** Art. 12(3): "extended by two further months". */
export const MAX_EXTENSION_MONTHS = 2;

/** The extension's body; built on first use: the functions that import this module for its event build no schema. */
export const extensionBody = () => (extensionBodySchema ??= buildExtensionBody());
let extensionBodySchema: ReturnType<typeof buildExtensionBody> | undefined;

const buildExtensionBody = () =>
  z.object({
    reasonCode: z.enum(EXTENSION_REASONS, { message: `must be one of ${EXTENSION_REASONS.join(', ')}` }),
    note: z.optional(
      z.string().check(z.trim(), z.regex(EXTENSION_NOTE_PATTERN, 'must be 1-160 letters, digits, spaces or -_.:#/,()')),
    ),
    months: z._default(z.int().check(z.minimum(1), z.maximum(MAX_EXTENSION_MONTHS)), MAX_EXTENSION_MONTHS),
  });
export type ExtensionBody = z.output<ReturnType<typeof extensionBody>>;

/** What the request keeps of its extension (and the `request.extended` event states). */
export interface DeadlineExtension {
  months: number;
  reasonCode: ExtensionReason;
  note?: string;
  /** The first deadline, one month after receipt. */
  previousDueAt: string;
  extendedAt: string;
  /** `operator:<token fingerprint>`. */
  extendedBy: string;
}

/** 422: the first deadline has passed; Art. 12(3) allows an extension only within it. */
export class DeadlinePassedError extends AppError {
  override name = 'DeadlinePassedError';
  constructor() {
    super(422, 'deadline_passed', 'The first deadline has passed: an extension must be made within it');
  }
}

/** Validates the body of an extension. @throws ValidationError naming the fields at fault, never echoing values */
export function parseExtensionBody(json: unknown): ExtensionBody {
  if (!json || typeof json !== 'object' || Array.isArray(json)) {
    throw new ValidationError('The body must be a JSON object');
  }
  const result = extensionBody().safeParse(json, { error: inWords });
  if (!result.success) {
    throw invalidFieldsError(result.error.issues);
  }
  return result.data;
}

export interface ExtensionDeps {
  requests: Pick<RequestRepository, 'get' | 'extendDeadline'>;
  audit: AuditLog;
  clock: Clock;
  /** IANA time zone in which due dates are counted (DEADLINE_TIME_ZONE); default UTC. */
  deadlineTimeZone?: string;
}

/**
 * Extends a request's `dueAt` by `months` (at most two) under GDPR Art. 12(3): once, only while the request is open
 * (`received`, `waiting`, `processing`) and before its first deadline has passed. The new due date is counted from
 * receipt as the first one is ({@link deadlineFor}, 1 + `months` months). The write is conditional on all of that in
 * the store, so two operators extending at once, or an extension racing the end of the request, cannot both win.
 * Then `request.extended` is appended (keyed: once; finalize and cancel append it too should this step crash first).
 * @throws NotFoundError (404), ConflictError (409: already extended, or no longer open), DeadlinePassedError (422)
 */
export async function extendErasureRequest(
  deps: ExtensionDeps,
  id: string,
  body: ExtensionBody,
  actor: string,
): Promise<ErasureRequest> {
  if (!isRequestId(id)) throw new NotFoundError();
  const request = await deps.requests.get(id);
  if (!request) throw new NotFoundError();
  const now = deps.clock.now();
  refuseUnlessExtendable(request, now);
  const extension: DeadlineExtension = {
    months: body.months,
    reasonCode: body.reasonCode,
    ...(body.note === undefined ? {} : { note: body.note }),
    previousDueAt: request.dueAt,
    extendedAt: now.toISOString(),
    extendedBy: actor,
  };
  const dueAt = deadlineFor(new Date(request.receivedAt), deps.deadlineTimeZone, 1 + body.months).toISOString();
  const extended = await deps.requests.extendDeadline(id, { dueAt, extension, now: now.toISOString() });
  if (!extended) {
    // The condition failed: something changed since the read. Say what, from a fresh read.
    refuseUnlessExtendable((await deps.requests.get(id)) ?? request, now);
    throw new ConflictError('The request changed while it was being extended; read it and try again');
  }
  await appendExtensionEvent(deps, extended);
  return extended;
}

function refuseUnlessExtendable(request: ErasureRequest, now: Date): void {
  if (!OPEN_STATUSES.includes(request.status)) {
    throw new ConflictError(`The request is ${request.status} and can no longer be extended`);
  }
  if (request.extension) throw new ConflictError('The request was already extended; Art. 12(3) allows it once');
  if (now.getTime() > new Date(request.dueAt).getTime()) throw new DeadlinePassedError();
}

/** The `request.extended` event of a request's stored extension. */
export function extendedEvent(request: ErasureRequest & { extension: DeadlineExtension }): NewAuditEvent {
  const { extension } = request;
  return {
    type: 'request.extended',
    actor: extension.extendedBy,
    key: 'request.extended',
    data: {
      previousDueAt: extension.previousDueAt,
      dueAt: request.dueAt,
      months: extension.months,
      reasonCode: extension.reasonCode,
      note: extension.note ?? null,
    },
  };
}

/**
 * Appends `request.extended` for a request that was extended (keyed: at most once). The extension route appends it
 * right after its write; finalize and cancel call this again before they seal the trail, so an extension whose
 * route crashed between the two writes is still in the trail, before its end.
 */
export async function appendExtensionEvent(deps: { audit: AuditLog }, request: ErasureRequest): Promise<void> {
  if (!request.extension) return;
  await deps.audit.append(request.id, extendedEvent({ ...request, extension: request.extension }));
}

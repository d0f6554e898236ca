import type { IdentifierKind } from '#shared/crypto/pseudonym';
import type { DeadlineExtension } from '#shared/domain/deadline-extension';
import type {
  ActionKey,
  ActionOutcome,
  ActionRecord,
  AuditEvent,
  ErasureRequest,
  LinkedPseudonym,
  NewAuditEvent,
  RequestStatus,
} from '#shared/domain/model';

/** The condition of a guarded write, checked by the store in the same write. */
export interface ActionGuard {
  /** The request's status must be one of these (`OPEN_STATUSES` for the workflow's steps). */
  whileIn: readonly RequestStatus[];
  /** The action's outcome is not this one. */
  unlessOutcome?: ActionOutcome;
  /**
   * With `unlessOutcome`: that outcome as the writer read it (its `updatedAt`, ISO 8601), which is replaced (an earlier
   * attempt's, which this one makes again); that outcome recorded since (by another writer, after the read) refuses
   * the write. Compared for equality, not by time: a concurrent writer may record it after this attempt began.
   */
  outcomeRead?: string;
  /** The action has no plan (no earlier attempt wrote down ids to act on). */
  unlessPlanned?: boolean;
}

export interface TransitionOptions {
  /** When the request ended with its erasures (completed, partially completed, failed). */
  completedAt?: string;
  /** When it was canceled: the cancel's status write. */
  canceledAt?: string;
  /** Destroys the encrypted identity once the status is written (only then: a refused transition keeps it). */
  destroyIdentity?: boolean;
  /** Further attributes set in the same write. */
  set?: Record<string, unknown>;
}

export type CreateResult =
  | {
      created: true;
      request: ErasureRequest;
      /** The last event written with it, the head of its chain (not personal: an event's place and hash). */
      lastEvent?: ChainLink;
    }
  | { created: false; request: ErasureRequest };

/** The mutable record of each request. Every write is conditional, so concurrent deliveries and retries cannot clash. */
export interface RequestRepository {
  /**
   * Stores a new request, its encrypted identity and `events` (the first of its audit trail) in one atomic write,
   * unless a request with this id exists, in which case the existing one is returned and nothing is written.
   */
  create(request: ErasureRequest, options?: WithEvents): Promise<CreateResult>;
  /** A request; with its encrypted `identity` only where the repository was built to read identities. */
  get(id: string): Promise<ErasureRequest | undefined>;
  /**
   * Moves a request to `to` only if its status is one of `from`. Returns the updated request, or undefined when the
   * condition did not hold (the request is elsewhere in its life).
   */
  transition(
    id: string,
    from: readonly RequestStatus[],
    to: RequestStatus,
    options?: TransitionOptions,
  ): Promise<ErasureRequest | undefined>;
  /**
   * {@link transition} and `events` in one atomic write (those already in the trail are not appended again): the move
   * and the events that record it land together, or neither. `after`: the chain head an earlier step left, for a
   * caller that has not read the request (a stale one costs a retry, never a wrong chain). Returns the events'
   * places in the chain, or undefined when the request is not in one of `from` or its trail has ended (nothing was
   * written).
   */
  transitionWithEvents(
    id: string,
    from: readonly RequestStatus[],
    to: RequestStatus,
    options: TransitionOptions & WithEvents & { events: readonly NewAuditEvent[]; after?: ChainLink },
  ): Promise<ChainLink[] | undefined>;
  /**
   * Records an action's outcome, only while the guard holds (false when it did not), with `events` appended in the
   * same write (those already in the trail are not appended again): both land, or neither.
   */
  recordAction(
    id: string,
    key: ActionKey,
    record: ActionRecord,
    guard: ActionGuard,
    options?: WithEvents,
  ): Promise<boolean>;
  /**
   * Writes down the provider ids an action is about to act on, once: the plan stored first wins and is returned, with
   * `created` telling whether it is this call's (false: an earlier attempt got this far).
   */
  planAction<T extends string | number>(
    id: string,
    key: ActionKey,
    ids: readonly T[],
    at: string,
    guard: ActionGuard,
    options?: { clearArchiveIdle?: boolean; linked?: readonly LinkedPseudonym[] },
  ): Promise<{ ids: T[]; at: string; created: boolean } | undefined>;
  /**
   * Sets `archiveIdleSince` (the archive step ended a try with nothing of it left in flight) while the request is in
   * `whileIn`; returns the request's status after the write, or undefined when it was in none of them.
   */
  markArchiveIdle(id: string, at: string, whileIn: readonly RequestStatus[]): Promise<RequestStatus | undefined>;
  /** Removes the provider record ids a request kept (plans, archived promoters) once nothing needs them. */
  forgetProviderIds(id: string): Promise<void>;
  /** Requests whose cancel has not finished (status `canceling`): their promoter restore is still to do or to check. */
  listPendingRestores(): Promise<ErasureRequest[]>;
  /**
   * Records what was archived and its outcome in one write (with `events`, as {@link recordAction}), only while the
   * request is in `whileIn`; else false.
   */
  recordArchivedPromoters(
    id: string,
    promoterIds: readonly number[],
    record: ActionRecord,
    whileIn: readonly RequestStatus[],
    options?: WithEvents,
  ): Promise<boolean>;
  /**
   * Destroys the encrypted identity for good (idempotent): it cannot be read or restored afterwards. With
   * `forgetProviderIds`, also does what {@link forgetProviderIds} does, in the same write; with `events`, appends them
   * in that write too, and returns their places in the chain (in order).
   * @throws AuditTrailSealedError when events are given and the trail has ended (the identity is destroyed all the same)
   */
  destroyIdentity(id: string, options?: { forgetProviderIds?: boolean } & WithEvents): Promise<ChainLink[]>;
  /**
   * Destroys identities no open request needs: those of ended requests, and those without a request that were written
   * before `createdBefore` (ISO; a crash between intake's two writes). Returns their request ids.
   */
  destroyStrayIdentities(createdBefore: string): Promise<string[]>;
  findBySubject(kind: IdentifierKind, pseudonym: string): Promise<ErasureRequest[]>;
  /**
   * For each pseudonym, the requests of that subject as the pseudonym index holds them (id, status, times; no other
   * read): what a suppression check answers from. At most `concurrency` queries at once.
   */
  subjectStatuses(
    kind: IdentifierKind,
    pseudonyms: readonly string[],
    concurrency: number,
  ): Promise<Map<string, SubjectRequestStatus[]>>;
  /**
   * Sets the extended `dueAt` and the extension in one write, only while the request is open, not yet extended, still
   * due at `extension.previousDueAt`, and `now` is not past that. Returns the updated request, or undefined when the
   * condition did not hold.
   */
  extendDeadline(
    id: string,
    change: { dueAt: string; extension: DeadlineExtension; now: string },
  ): Promise<ErasureRequest | undefined>;
  /**
   * One page of the requests in `status` received in [`from`, `to`), oldest first, from the status index (the summary
   * attributes only: no identity, no plans). `next` continues the read; undefined at the end.
   */
  listByStatus(
    status: RequestStatus,
    range: { from?: string; to?: string; limit: number; startKey?: Record<string, unknown> },
  ): Promise<RequestListPage>;
  /** Requests not in a final status: what a restarted local runtime resumes. */
  listUnfinished(): Promise<ErasureRequest[]>;
}

/** Audit events a write appends to the request's trail in the same atomic write. */
export interface WithEvents {
  events?: readonly NewAuditEvent[];
}

/** A page of one status's requests; `next` is the store's own continuation key. */
export interface RequestListPage {
  items: ErasureRequest[];
  next?: Record<string, unknown>;
}

/** One request of a subject as a pseudonym index holds it. */
export interface SubjectRequestStatus {
  id: string;
  status: RequestStatus;
  receivedAt: string;
  completedAt?: string;
}

/** Append-only, hash-chained audit events. No method updates or deletes one. */
export interface AuditLog {
  /**
   * Appends an event at the end of the request's chain; an event whose `key` is already there is not appended twice
   * (the stored one is returned). Throws `AuditTrailSealedError` when a sealing event (`SEALING_EVENTS`) ends the chain.
   */
  append(requestId: string, event: NewAuditEvent): Promise<ChainLink>;
  /** The event that ended the trail (`SEALING_EVENTS`), if it has ended (without reading the trail where it can). */
  seal(requestId: string): Promise<AuditEvent | undefined>;
  /** The event with idempotency key `key`, if the trail has one (without reading the whole trail where it can). */
  find(requestId: string, key: string): Promise<AuditEvent | undefined>;
  list(requestId: string): Promise<AuditEvent[]>;
  /** The events of each lane of the request's trail that has any (`CHAIN_LANES`), by lane name. */
  lanes(requestId: string): Promise<Record<string, AuditEvent[]>>;
}

/** An event's place in its chain: what a caller keeps of an append (e.g. the chain head a step returns). */
export type ChainLink = Pick<AuditEvent, 'seq' | 'hash'>;

/**
 * Resumes of a failed workflow before `ensureRunning` gives up (`gave-up`: the sweeper reports it stuck, an operator
 * looks). A failure that repeats is a bug, not a blip. Step Functions counts redrives; the local engine, failed runs.
 */
export const MAX_WORKFLOW_RESUMES = 3;

/** What `ensureRunning` found and did. */
export type EnsureRunningResult = 'running' | 'started' | 'redriven' | 'ended' | 'gave-up';

/** Starts and stops the erasure workflow of a request. Both are idempotent. */
export interface WorkflowEngine {
  /**
   * @param schedule the request's deadline, where the engine orders its queue by it (locally) and the caller has it;
   *   with `lastEvent` (the chain head intake left), the workflow's input carries it and `receivedAt` to its first step,
   *   which then enters the waiting period without reading the request (neither is personal)
   */
  start(requestId: string, schedule?: { dueAt: string; receivedAt: string; lastEvent?: ChainLink }): Promise<void>;
  stop(requestId: string): Promise<void>;
  /**
   * For a request that should be in progress: leaves a running workflow alone, starts one that never started, and
   * resumes (redrives) one that failed, a bounded number of times.
   */
  ensureRunning(requestId: string): Promise<EnsureRunningResult>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

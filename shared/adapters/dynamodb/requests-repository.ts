import type { IdentifierKind } from '#shared/crypto/pseudonym';
import type { DeadlineExtension } from '#shared/domain/deadline-extension';
import type { ActionKey, ActionRecord, ErasureRequest, NewAuditEvent, RequestStatus } from '#shared/domain/model';
import type {
  ActionGuard,
  ChainLink,
  CreateResult,
  RequestListPage,
  RequestRepository,
  SubjectRequestStatus,
  TransitionOptions,
  WithEvents,
} from '#shared/ports/audit';
import type { DynamoDBDocumentClient } from './document-client.ts';
import { markArchiveIdle, planAction, recordAction, recordArchivedPromoters } from './requests/actions.ts';
import { createRequest } from './requests/create.ts';
import {
  destroyIdentity,
  destroyStrayIdentities,
  extendDeadline,
  forgetProviderIds,
  transitionRequest,
  transitionRequestWithEvents,
} from './requests/moves.ts';
import {
  findRequestsBySubject,
  getRequest,
  listPendingRestores,
  listRequestsByStatus,
  listUnfinishedRequests,
  subjectStatuses,
} from './requests/reads.ts';
import { type RequestsTable, type RequestsTableOptions, requestsTable } from './requests/table.ts';

export { requestOfItem } from './requests/items.ts';
export type { RequestsTableOptions as RequestRepositoryOptions } from './requests/table.ts';

/**
 * The requests table, every operation of {@link RequestRepository}: one item per request, changed only by conditional
 * writes. The encrypted identity lives in the identities table, which has no backup (see `tables.ts`); this repository
 * writes, reads and deletes it with its request, so callers see one `ErasureRequest` with an `identity` field.
 *
 * For the local runtime, the tests and the functions that run most of the operations. Each operation is a function of
 * `requests/` on a {@link RequestsTable}: a function that runs a few builds an object of just those
 * (`#shared/composition/requests`), so its bundle carries no other operation or the commands they send.
 */
export class DynamoRequestRepository implements RequestRepository {
  readonly #table: RequestsTable;

  /** @param tables with `auditEvents`, writes can append audit events in the same atomic write (`events` options) */
  constructor(
    db: DynamoDBDocumentClient,
    tables: { requests: string; identities: string; auditEvents?: string },
    options: RequestsTableOptions = {},
  ) {
    this.#table = requestsTable(db, tables, options);
  }

  create(request: ErasureRequest, options?: WithEvents): Promise<CreateResult> {
    return createRequest(this.#table, request, options);
  }

  get(id: string): Promise<ErasureRequest | undefined> {
    return getRequest(this.#table, id);
  }

  transition(
    id: string,
    from: readonly RequestStatus[],
    to: RequestStatus,
    options?: TransitionOptions,
  ): Promise<ErasureRequest | undefined> {
    return transitionRequest(this.#table, id, from, to, options);
  }

  transitionWithEvents(
    id: string,
    from: readonly RequestStatus[],
    to: RequestStatus,
    options: TransitionOptions & { events: readonly NewAuditEvent[]; after?: ChainLink },
  ): Promise<ChainLink[] | undefined> {
    return transitionRequestWithEvents(this.#table, id, from, to, options);
  }

  recordAction(
    id: string,
    key: ActionKey,
    record: ActionRecord,
    guard: ActionGuard,
    options?: WithEvents,
  ): Promise<boolean> {
    return recordAction(this.#table, id, key, record, guard, options);
  }

  planAction<T extends string | number>(
    id: string,
    key: ActionKey,
    ids: readonly T[],
    at: string,
    guard: ActionGuard,
    options?: Parameters<RequestRepository['planAction']>[5],
  ): Promise<{ ids: T[]; at: string; created: boolean } | undefined> {
    return planAction(this.#table, id, key, ids, at, guard, options);
  }

  markArchiveIdle(id: string, at: string, whileIn: readonly RequestStatus[]): Promise<RequestStatus | undefined> {
    return markArchiveIdle(this.#table, id, at, whileIn);
  }

  forgetProviderIds(id: string): Promise<void> {
    return forgetProviderIds(this.#table, id);
  }

  listPendingRestores(): Promise<ErasureRequest[]> {
    return listPendingRestores(this.#table);
  }

  recordArchivedPromoters(
    id: string,
    promoterIds: readonly number[],
    record: ActionRecord,
    whileIn: readonly RequestStatus[],
    options?: WithEvents,
  ): Promise<boolean> {
    return recordArchivedPromoters(this.#table, id, promoterIds, record, whileIn, options);
  }

  destroyIdentity(id: string, options?: { forgetProviderIds?: boolean } & WithEvents): Promise<ChainLink[]> {
    return destroyIdentity(this.#table, id, options);
  }

  destroyStrayIdentities(createdBefore: string): Promise<string[]> {
    return destroyStrayIdentities(this.#table, createdBefore);
  }

  findBySubject(kind: IdentifierKind, pseudonym: string): Promise<ErasureRequest[]> {
    return findRequestsBySubject(this.#table, kind, pseudonym);
  }

  subjectStatuses(
    kind: IdentifierKind,
    pseudonyms: readonly string[],
    concurrency: number,
  ): Promise<Map<string, SubjectRequestStatus[]>> {
    return subjectStatuses(this.#table, kind, pseudonyms, concurrency);
  }

  listByStatus(
    status: RequestStatus,
    range: { from?: string; to?: string; limit: number; startKey?: Record<string, unknown> },
  ): Promise<RequestListPage> {
    return listRequestsByStatus(this.#table, status, range);
  }

  extendDeadline(
    id: string,
    change: { dueAt: string; extension: DeadlineExtension; now: string },
  ): Promise<ErasureRequest | undefined> {
    return extendDeadline(this.#table, id, change);
  }

  listUnfinished(): Promise<ErasureRequest[]> {
    return listUnfinishedRequests(this.#table);
  }
}

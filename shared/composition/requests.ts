import type { DynamoDBDocumentClient } from '#shared/adapters/dynamodb/document-client';
import { planAction, recordAction } from '#shared/adapters/dynamodb/requests/actions';
import { destroyIdentity, forgetProviderIds, transitionRequest } from '#shared/adapters/dynamodb/requests/moves';
import { findRequestsBySubject, getRequest } from '#shared/adapters/dynamodb/requests/reads';
import { type RequestsTable, type RequestsTableOptions, requestsTable } from '#shared/adapters/dynamodb/requests/table';
import type { StorageConfig } from '#shared/config/sections';
import type { Clock, RequestRepository } from '#shared/ports/audit';
import { systemClock } from '#shared/ports/audit';

export {
  markArchiveIdle,
  planAction,
  recordAction,
  recordArchivedPromoters,
} from '#shared/adapters/dynamodb/requests/actions';
export { createRequest } from '#shared/adapters/dynamodb/requests/create';
export {
  destroyIdentity,
  destroyStrayIdentities,
  extendDeadline,
  forgetProviderIds,
  transitionRequest,
  transitionRequestWithEvents,
} from '#shared/adapters/dynamodb/requests/moves';
export {
  findRequestsBySubject,
  getRequest,
  listPendingRestores,
  listRequestsByStatus,
  listUnfinishedRequests,
  subjectStatuses,
} from '#shared/adapters/dynamodb/requests/reads';

/**
 * The requests table of the configuration, for a function that runs a few of its operations
 * ({@link bindRequestOperations}); one that runs most of them takes the whole repository (`createAuditStores`).
 */
export function createRequestsTable(
  config: Pick<StorageConfig, 'tables' | 'auditRetentionDays'>,
  db: DynamoDBDocumentClient,
  clock: Clock = systemClock,
  options: Omit<RequestsTableOptions, 'audit'> = {},
): RequestsTable {
  return requestsTable(db, config.tables, {
    ...options,
    audit: { clock, retentionDays: config.auditRetentionDays },
  });
}

/** An operation of `#shared/adapters/dynamodb/requests/*`: the table first, then the port method's arguments. */
type RequestOperation = (table: RequestsTable, ...args: never[]) => unknown;

/** The operations bound to a table: the methods of `RequestRepository` they implement, with its names. */
export type BoundRequestOperations<O extends Record<string, RequestOperation>> = {
  [K in keyof O]: O[K] extends (table: RequestsTable, ...args: infer A) => infer R ? (...args: A) => R : never;
};

/**
 * Just the `RequestRepository` methods a function runs, e.g. `bindRequestOperations(table, { create: createRequest })`
 * for intake: named by the composition root, so its bundle carries those operations and the DynamoDB commands they
 * send, and no other.
 */
export function bindRequestOperations<O extends Record<string, RequestOperation>>(
  table: RequestsTable,
  operations: O,
): BoundRequestOperations<O> {
  return Object.fromEntries(
    Object.entries(operations).map(([name, operation]) => [name, (...args: never[]) => operation(table, ...args)]),
  ) as BoundRequestOperations<O>;
}

/**
 * `RequestRepository.planAction` bound to a table. By hand, as {@link bindRequestOperations} would lose its type
 * parameter (the ids' type, which the caller gets back).
 */
export const boundPlanAction =
  (table: RequestsTable): RequestRepository['planAction'] =>
  (id, key, ids, at, guard, options) =>
    planAction(table, id, key, ids, at, guard, options);

/**
 * The operations that end a cancel (`CancelRequestOperations` of `#shared/domain/erasure-requests`), bound to a table:
 * for the functions that finish cancels, with the few more each runs.
 */
export const bindCancelOperations = (table: RequestsTable) =>
  bindRequestOperations(table, {
    get: getRequest,
    destroyIdentity,
    forgetProviderIds,
    transition: transitionRequest,
    recordAction,
    findBySubject: findRequestsBySubject,
  });

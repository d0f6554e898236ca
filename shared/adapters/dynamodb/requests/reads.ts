import type { IdentifierKind } from '#shared/crypto/pseudonym';
import { type ErasureRequest, FINAL_STATUSES, type RequestStatus } from '#shared/domain/model';
import type { RequestListPage, SubjectRequestStatus } from '#shared/ports/audit';
import { rememberChainOf } from '../chain-head.ts';
import {
  BatchGetCommand,
  type BatchGetCommandInput,
  type BatchGetCommandOutput,
  QueryCommand,
  ScanCommand,
} from '../document-client.ts';
import { allItems, mapWithConcurrency } from '../paging.ts';
import { REQUESTS_TABLE } from '../tables.ts';
import { type RequestItem, toRequest } from './items.ts';
import { type RequestsTable, readRequest } from './table.ts';

/** `RequestRepository.get`: the request, with its encrypted identity where the table was built to read identities. */
export async function getRequest(table: RequestsTable, id: string): Promise<ErasureRequest | undefined> {
  if (!table.readIdentity) return readRequest(table, id);
  const { request: item, identity } = await readWithIdentity(table, id);
  rememberChainOf(item);
  const request = item ? toRequest(item as unknown as RequestItem, true) : undefined;
  if (!request) return undefined;
  // A request stored before the identities table existed still holds its identity itself, until it ends.
  const { identity: legacy, ...rest } = request;
  const found = identity ?? legacy;
  return found === undefined ? rest : { ...rest, identity: found };
}

/**
 * The request item and its identity's ciphertext in one BatchGetItem (consistent reads of both tables): what every
 * provider task reads first.
 */
async function readWithIdentity(
  table: RequestsTable,
  id: string,
): Promise<{ request?: Record<string, unknown>; identity?: string }> {
  const found: { request?: Record<string, unknown>; identity?: string } = {};
  let requestItems: BatchGetCommandInput['RequestItems'] = {
    [table.name]: { Keys: [{ id }], ConsistentRead: true },
    [table.identitiesName]: {
      Keys: [{ id }],
      // Only the ciphertext: `identity` is a DynamoDB reserved word.
      ProjectionExpression: '#identity',
      ExpressionAttributeNames: { '#identity': 'identity' },
      ConsistentRead: true,
    },
  };
  while (requestItems && Object.keys(requestItems).length > 0) {
    const page: BatchGetCommandOutput = await table.db.send(new BatchGetCommand({ RequestItems: requestItems }));
    const [request] = page.Responses?.[table.name] ?? [];
    const [identity] = page.Responses?.[table.identitiesName] ?? [];
    if (request) found.request = request;
    if (typeof identity?.identity === 'string') found.identity = identity.identity;
    requestItems = page.UnprocessedKeys;
  }
  return found;
}

const subjectIndex = (kind: IdentifierKind) =>
  kind === 'email' ? REQUESTS_TABLE.indexes.byEmailPseudonym : REQUESTS_TABLE.indexes.byExternalIdPseudonym;

/** `RequestRepository.findBySubject`: the requests of one identifier's pseudonym, read whole from the table. */
export async function findRequestsBySubject(
  table: RequestsTable,
  kind: IdentifierKind,
  pseudonym: string,
): Promise<ErasureRequest[]> {
  const index = subjectIndex(kind);
  const projected = await allItems<{ id: string }>((ExclusiveStartKey) =>
    table.db.send(
      new QueryCommand({
        TableName: table.name,
        IndexName: index.name,
        KeyConditionExpression: '#pk = :pseudonym',
        ExpressionAttributeNames: { '#pk': index.partitionKey },
        ExpressionAttributeValues: { ':pseudonym': pseudonym },
        ExclusiveStartKey,
      }),
    ),
  );
  // Index reads are eventually consistent and projected; the full items come from the table.
  const requests = await Promise.all(projected.map((item) => getRequest(table, String(item.id))));
  return requests.filter((r): r is ErasureRequest => r !== undefined);
}

/** `RequestRepository.subjectStatuses`: each pseudonym's requests as its index projects them, no table read. */
export async function subjectStatuses(
  table: RequestsTable,
  kind: IdentifierKind,
  pseudonyms: readonly string[],
  concurrency: number,
): Promise<Map<string, SubjectRequestStatus[]>> {
  const index = subjectIndex(kind);
  const found = new Map<string, SubjectRequestStatus[]>();
  // DynamoDB has no batched Query: one per pseudonym, a bounded number at once. The index projects status and
  // completedAt, so no item is read from the table.
  await mapWithConcurrency([...new Set(pseudonyms)], concurrency, async (pseudonym) => {
    const items = await allItems<Record<string, unknown>>((ExclusiveStartKey) =>
      table.db.send(
        new QueryCommand({
          TableName: table.name,
          IndexName: index.name,
          KeyConditionExpression: '#pk = :pseudonym',
          ProjectionExpression: 'id, #status, receivedAt, completedAt',
          ExpressionAttributeNames: { '#pk': index.partitionKey, '#status': 'status' },
          ExpressionAttributeValues: { ':pseudonym': pseudonym },
          ExclusiveStartKey,
        }),
      ),
    );
    found.set(
      pseudonym,
      items.map((item) => ({
        id: String(item.id),
        status: item.status as RequestStatus,
        receivedAt: String(item.receivedAt),
        ...(typeof item.completedAt === 'string' ? { completedAt: item.completedAt } : {}),
      })),
    );
  });
  return found;
}

/** `RequestRepository.listByStatus`: one page of the status index, received in [`from`, `to`), oldest first. */
export async function listRequestsByStatus(
  table: RequestsTable,
  status: RequestStatus,
  range: { from?: string; to?: string; limit: number; startKey?: Record<string, unknown> },
): Promise<RequestListPage> {
  const index = REQUESTS_TABLE.indexes.byStatus;
  const values: Record<string, unknown> = { ':status': status };
  let condition = '#status = :status';
  // `to` is exclusive; receivedAt is ISO 8601 with milliseconds, so the millisecond before it is the last included.
  const before = range.to ? new Date(Date.parse(range.to) - 1).toISOString() : undefined;
  if (range.from && before) {
    condition += ' AND receivedAt BETWEEN :from AND :before';
    Object.assign(values, { ':from': range.from, ':before': before });
  } else if (range.from) {
    condition += ' AND receivedAt >= :from';
    values[':from'] = range.from;
  } else if (before) {
    condition += ' AND receivedAt <= :before';
    values[':before'] = before;
  }
  if (range.from && before && before < range.from) return { items: [] };
  const page = await table.db.send(
    new QueryCommand({
      TableName: table.name,
      IndexName: index.name,
      KeyConditionExpression: condition,
      ExpressionAttributeNames: { '#status': index.partitionKey },
      ExpressionAttributeValues: values,
      Limit: range.limit,
      ...(range.startKey ? { ExclusiveStartKey: range.startKey } : {}),
    }),
  );
  return {
    items: (page.Items ?? []).map((item) => toRequest(item as RequestItem)),
    ...(page.LastEvaluatedKey ? { next: page.LastEvaluatedKey } : {}),
  };
}

/** `RequestRepository.listPendingRestores`: the requests whose cancel has not finished. */
export const listPendingRestores = (table: RequestsTable): Promise<ErasureRequest[]> =>
  scanRequests(table, '#status = :canceling', { ':canceling': 'canceling' }, { '#status': 'status' });

/** `RequestRepository.listUnfinished`: the requests not in a final status. */
export function listUnfinishedRequests(table: RequestsTable): Promise<ErasureRequest[]> {
  const values: Record<string, unknown> = {};
  FINAL_STATUSES.forEach((status, i) => {
    values[`:f${i}`] = status;
  });
  return scanRequests(table, `NOT #status IN (${FINAL_STATUSES.map((_, i) => `:f${i}`).join(', ')})`, values, {
    '#status': 'status',
  });
}

async function scanRequests(
  table: RequestsTable,
  filter: string,
  values: Record<string, unknown>,
  names?: Record<string, string>,
): Promise<ErasureRequest[]> {
  const items = await allItems<RequestItem>((ExclusiveStartKey) =>
    table.db.send(
      new ScanCommand({
        TableName: table.name,
        FilterExpression: filter,
        ...(names ? { ExpressionAttributeNames: names } : {}),
        ExpressionAttributeValues: values,
        ConsistentRead: true,
        ExclusiveStartKey,
      }),
    ),
  );
  return items.map((item) => toRequest(item));
}

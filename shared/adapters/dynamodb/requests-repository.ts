import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type BatchGetCommandInput,
  type BatchGetCommandOutput,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { IdentifierKind } from '#shared/crypto/pseudonym';
import { addDays, epochSeconds } from '#shared/domain/dates';
import type { DeadlineExtension } from '#shared/domain/deadline-extension';
import {
  ACTION_KEYS,
  type ActionKey,
  type ActionPlan,
  type ActionRecord,
  type ErasureRequest,
  FINAL_STATUSES,
  type NewAuditEvent,
  OPEN_STATUSES,
  type RequestStatus,
} from '#shared/domain/model';
import { AuditTrailSealedError, ConflictError } from '#shared/errors';
import type {
  ActionGuard,
  ChainLink,
  Clock,
  CreateResult,
  RequestListPage,
  RequestRepository,
  SubjectRequestStatus,
  TransitionOptions,
} from '#shared/ports/audit';
import { systemClock } from '#shared/ports/audit';
import { AuditChain, type RequestWrite } from './audit-chain.ts';
import { emptyChain, rememberChain, rememberChainOf, withoutChain } from './chain-head.ts';
import { DynamoIdentityTable, type MakeDeletionFinal } from './identity-table.ts';
import { allItems, mapWithConcurrency } from './paging.ts';
import { REQUESTS_TABLE } from './tables.ts';

type Item = ErasureRequest & { emailPseudonym?: string; externalIdPseudonym?: string };

/**
 * How long an identity may outlive its request's due date before TTL removes it, should nothing delete it first: the
 * two further months GDPR Art. 12(3) allows for answering (62 days covers any two consecutive calendar months). The
 * configuration keeps a waiting period and a batch poll timeout at 30 days each at most (hours by default), so no
 * request that can still lawfully finish loses its identity; TTL is only the backstop behind finalize, cancel and the
 * sweeper.
 */
const IDENTITY_LIFE_AFTER_DUE_DAYS = 62;

export interface RequestRepositoryOptions {
  /**
   * Whether `get` returns the encrypted identity. Only the functions that search the providers need it, and only they
   * are granted reads of the identities table.
   */
  readIdentity?: boolean;
  /** Runs after each identity deletion (see {@link MakeDeletionFinal}): the local runtime compacts dynalite here. */
  makeDeletionFinal?: MakeDeletionFinal;
  /** The clock and retention of the audit events a write appends with it (`events` options). */
  audit?: { clock: Clock; retentionDays: number };
}

/**
 * The requests table: one item per request, changed only by conditional writes. The encrypted identity lives in the
 * identities table, which has no backup (see `tables.ts`); this repository writes, reads and deletes it with its
 * request, so callers see one `ErasureRequest` with an `identity` field.
 */
export class DynamoRequestRepository implements RequestRepository {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #identities: DynamoIdentityTable;
  readonly #identitiesTable: string;
  readonly #readIdentity: boolean;
  readonly #chain: AuditChain | undefined;
  readonly #audit: { clock: Clock; retentionDays: number };

  /** @param tables with `auditEvents`, writes can append audit events in the same atomic write (`events` options) */
  constructor(
    db: DynamoDBDocumentClient,
    tables: { requests: string; identities: string; auditEvents?: string },
    options: RequestRepositoryOptions = {},
  ) {
    this.#db = db;
    this.#table = tables.requests;
    this.#identitiesTable = tables.identities;
    this.#identities = new DynamoIdentityTable(db, tables.identities, options.makeDeletionFinal);
    this.#readIdentity = options.readIdentity ?? false;
    this.#audit = options.audit ?? { clock: systemClock, retentionDays: 1096 };
    this.#chain = tables.auditEvents
      ? new AuditChain(db, { requests: tables.requests, auditEvents: tables.auditEvents }, this.#audit)
      : undefined;
  }

  #chainFor(events: readonly NewAuditEvent[] | undefined): AuditChain {
    if (!this.#chain) throw new Error(`No audit events table to append ${events?.[0]?.type ?? 'events'} to`);
    return this.#chain;
  }

  /**
   * One atomic write: the identity, the request item (holding its chain head) and `events` (its first audit events),
   * each only if absent. A request already stored (a redelivery, even of a finished request) cancels the whole write
   * and is returned, so no identity is written again for it (an identity destroyed at the end stays destroyed).
   * @throws ConflictError when this id's identity was stored for a different payload and no request exists yet
   */
  async create(request: ErasureRequest, options: { events?: readonly NewAuditEvent[] } = {}): Promise<CreateResult> {
    const { identity, ...rest } = request;
    const events = options.events ?? [];
    const chain = events.length ? this.#chainFor(events).plan(request.id, emptyChain(), events) : undefined;
    const head = chain?.next ?? emptyChain();
    const item: Item & Record<string, unknown> = {
      ...rest,
      // Top-level copies feed the pseudonym indexes (an index key cannot be a nested attribute).
      ...(request.subject.emailPseudonym ? { emailPseudonym: request.subject.emailPseudonym } : {}),
      ...(request.subject.externalIdPseudonym ? { externalIdPseudonym: request.subject.externalIdPseudonym } : {}),
      chainSeq: head.seq,
      chainHash: head.hash,
      chainKeys: head.keys,
      ...(head.sealed ? { chainSealed: true } : {}),
    };
    const writes = [
      ...(identity === undefined
        ? []
        : [
            {
              Put: {
                TableName: this.#identitiesTable,
                Item: {
                  id: request.id,
                  identity,
                  payloadHash: request.payloadHash,
                  createdAt: request.receivedAt,
                  expiresAt: epochSeconds(addDays(new Date(request.dueAt), IDENTITY_LIFE_AFTER_DUE_DAYS)),
                },
                // The same payload's identity (a crashed earlier attempt's) is replaced: it decrypts to the same.
                ConditionExpression: 'attribute_not_exists(id) OR payloadHash = :payloadHash',
                ExpressionAttributeValues: { ':payloadHash': request.payloadHash },
              },
            },
          ]),
      ...(chain?.pending ?? []).map((event) => ({
        Put: {
          TableName: this.#chainFor(events).eventsTable,
          Item: event,
          ConditionExpression: 'attribute_not_exists(seq)',
        },
      })),
      { Put: { TableName: this.#table, Item: item, ConditionExpression: 'attribute_not_exists(id)' } },
    ];
    try {
      if (writes.length === 1) await this.#db.send(new PutCommand(writes[0]?.Put as never));
      else await this.#db.send(new TransactWriteCommand({ TransactItems: writes }));
      rememberChain(request.id, { ...head, itemSeq: head.seq });
      return { created: true, request, ...(head.seq > 0 ? { lastEvent: { seq: head.seq, hash: head.hash } } : {}) };
    } catch (error) {
      const identityRefused =
        identity !== undefined &&
        error instanceof TransactionCanceledException &&
        error.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed';
      if (!(error instanceof ConditionalCheckFailedException || error instanceof TransactionCanceledException)) {
        throw error;
      }
      const existing = await this.#getRequest(request.id);
      if (existing) return { created: false, request: existing };
      if (identityRefused) throw new ConflictError('This webhook-id was already used for a different request');
      throw error;
    }
  }

  async get(id: string): Promise<ErasureRequest | undefined> {
    if (!this.#readIdentity) return this.#getRequest(id);
    const { request: item, identity } = await this.#getWithIdentity(id);
    rememberChainOf(item);
    const request = item ? toRequest(item as unknown as Item, true) : undefined;
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
  async #getWithIdentity(id: string): Promise<{ request?: Record<string, unknown>; identity?: string }> {
    const found: { request?: Record<string, unknown>; identity?: string } = {};
    let requestItems: BatchGetCommandInput['RequestItems'] = {
      [this.#table]: { Keys: [{ id }], ConsistentRead: true },
      [this.#identitiesTable]: {
        Keys: [{ id }],
        // Only the ciphertext: `identity` is a DynamoDB reserved word.
        ProjectionExpression: '#identity',
        ExpressionAttributeNames: { '#identity': 'identity' },
        ConsistentRead: true,
      },
    };
    while (requestItems && Object.keys(requestItems).length > 0) {
      const page: BatchGetCommandOutput = await this.#db.send(new BatchGetCommand({ RequestItems: requestItems }));
      const [request] = page.Responses?.[this.#table] ?? [];
      const [identity] = page.Responses?.[this.#identitiesTable] ?? [];
      if (request) found.request = request;
      if (typeof identity?.identity === 'string') found.identity = identity.identity;
      requestItems = page.UnprocessedKeys;
    }
    return found;
  }

  async #getRequest(id: string, keepLegacyIdentity = false): Promise<ErasureRequest | undefined> {
    const { Item } = await this.#db.send(new GetCommand({ TableName: this.#table, Key: { id }, ConsistentRead: true }));
    rememberChainOf(Item);
    return Item ? toRequest(Item as Item, keepLegacyIdentity) : undefined;
  }

  async transition(
    id: string,
    from: readonly RequestStatus[],
    to: RequestStatus,
    options: TransitionOptions = {},
  ): Promise<ErasureRequest | undefined> {
    const move = statusMove(from, to, options);
    const updated = await this.#update({
      Key: { id },
      UpdateExpression: [`SET ${move.set.join(', ')}`, move.remove.length ? `REMOVE ${move.remove.join(', ')}` : '']
        .filter(Boolean)
        .join(' '),
      ConditionExpression: `attribute_exists(id) AND ${move.condition}`,
      ExpressionAttributeNames: move.names,
      ExpressionAttributeValues: move.values,
      ReturnValues: 'ALL_NEW',
    });
    if (!updated) return undefined;
    if (options.destroyIdentity) await this.#identities.delete(id);
    return toRequest(updated as unknown as Item);
  }

  async transitionWithEvents(
    id: string,
    from: readonly RequestStatus[],
    to: RequestStatus,
    options: TransitionOptions & { events: readonly NewAuditEvent[]; after?: ChainLink },
  ): Promise<ChainLink[] | undefined> {
    const { events, after, ...transition } = options;
    // The same write as `transition`, with the events and (to destroy the identity) its deletion: the chain mechanism
    // of every write that records itself (`AuditChain.write`).
    const result = await this.#chainFor(events).write(id, {
      events,
      request: statusMove(from, to, transition),
      ...(transition.destroyIdentity ? { also: [{ Delete: { TableName: this.#identitiesTable, Key: { id } } }] } : {}),
      ...(after ? { after } : {}),
    });
    if (!result.written) return undefined;
    if (transition.destroyIdentity) await this.#identities.makeFinal();
    return result.links;
  }

  async recordAction(
    id: string,
    key: ActionKey,
    record: ActionRecord,
    guard: ActionGuard,
    options: { events?: readonly NewAuditEvent[] } = {},
  ): Promise<boolean> {
    const names: Record<string, string> = { '#key': key };
    const values: Record<string, unknown> = { ':record': stripUndefined(record) };
    const guarded = guardConditions(guard, names, values, key);
    if (options.events?.length) {
      return this.#writeWithEvents(id, options.events, {
        set: ['actions.#key = :record'],
        condition: guarded.join(' AND '),
        names,
        values,
      });
    }
    const conditions = ['attribute_exists(id)', ...guarded];
    return this.#updated({
      Key: { id },
      UpdateExpression: 'SET actions.#key = :record',
      ConditionExpression: conditions.join(' AND '),
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    });
  }

  async planAction<T extends string | number>(
    id: string,
    key: ActionKey,
    ids: readonly T[],
    at: string,
    guard: ActionGuard,
  ): Promise<{ ids: T[]; at: string; created: boolean } | undefined> {
    const token = randomUUID();
    const names: Record<string, string> = { '#plan': planAttribute(key) };
    const values: Record<string, unknown> = { ':plan': { ids: [...ids], at, token } };
    const conditions = ['attribute_exists(id)', ...guardConditions(guard, names, values, key)];
    const updated = await this.#update({
      Key: { id },
      UpdateExpression: 'SET #plan = if_not_exists(#plan, :plan)',
      ConditionExpression: conditions.join(' AND '),
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ReturnValues: 'ALL_NEW',
    });
    if (!updated) return undefined;
    const stored = (updated as Record<string, { ids: T[]; at: string; token: string }>)[planAttribute(key)];
    if (!stored) throw new Error(`Plan for ${key} was not stored`);
    return { ids: stored.ids, at: stored.at, created: stored.token === token };
  }

  async forgetProviderIds(id: string): Promise<void> {
    const names: Record<string, string> = {};
    ACTION_KEYS.forEach((key, i) => {
      names[`#p${i}`] = planAttribute(key);
    });
    await this.#update({
      Key: { id },
      UpdateExpression: `REMOVE archivedPromoterIds, ${ACTION_KEYS.map((_, i) => `#p${i}`).join(', ')}`,
      ConditionExpression: 'attribute_exists(id)',
      ExpressionAttributeNames: names,
    });
  }

  async listPendingRestores(): Promise<ErasureRequest[]> {
    return this.#scan('#status = :canceling', { ':canceling': 'canceling' }, { '#status': 'status' });
  }

  async recordArchivedPromoters(
    id: string,
    promoterIds: readonly number[],
    record: ActionRecord,
    whileIn: readonly RequestStatus[],
    options: { events?: readonly NewAuditEvent[] } = {},
  ): Promise<boolean> {
    const names: Record<string, string> = { '#key': 'firstpromoter.promoters' };
    const values: Record<string, unknown> = { ':ids': [...promoterIds], ':record': stripUndefined(record) };
    if (options.events?.length) {
      return this.#writeWithEvents(id, options.events, {
        set: ['archivedPromoterIds = :ids', 'actions.#key = :record'],
        condition: guardConditions({ whileIn }, names, values, 'firstpromoter.promoters').join(' AND '),
        names,
        values,
      });
    }
    return this.#updated({
      Key: { id },
      // One write for both: a cancel that reads the ids also sees the outcome, and a cancel that came first blocks both.
      UpdateExpression: 'SET archivedPromoterIds = :ids, actions.#key = :record',
      ConditionExpression: guardConditions({ whileIn }, names, values, 'firstpromoter.promoters').join(' AND '),
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    });
  }

  /** A guarded write of the request item and its events, all or nothing: false when the guard did not hold. */
  async #writeWithEvents(id: string, events: readonly NewAuditEvent[], request: RequestWrite): Promise<boolean> {
    return (await this.#chainFor(events).write(id, { events, request })).written;
  }

  /**
   * One UpdateItem. Returns the attributes asked for with `ReturnValues` (an empty object otherwise), or undefined when
   * its condition did not hold; other errors are thrown.
   */
  async #update(
    input: Omit<ConstructorParameters<typeof UpdateCommand>[0], 'TableName'>,
  ): Promise<Record<string, unknown> | undefined> {
    try {
      const { Attributes } = await this.#db.send(new UpdateCommand({ TableName: this.#table, ...input }));
      if (input.ReturnValues === 'ALL_NEW') rememberChainOf(Attributes);
      return Attributes ?? {};
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  /** A guarded write: true when it was made, false when its condition did not hold. */
  async #updated(input: Omit<ConstructorParameters<typeof UpdateCommand>[0], 'TableName'>): Promise<boolean> {
    return (await this.#update(input)) !== undefined;
  }

  async destroyIdentity(
    id: string,
    options: { forgetProviderIds?: boolean; events?: readonly NewAuditEvent[] } = {},
  ): Promise<ChainLink[]> {
    // A request stored before the identities table held its identity itself; only such an item is written, unless the
    // provider ids or events go in the same write (then always: one round trip instead of two).
    const names: Record<string, string> = { '#identity': 'identity' };
    const remove = ['#identity'];
    if (options.forgetProviderIds) {
      ACTION_KEYS.forEach((key, i) => {
        names[`#p${i}`] = planAttribute(key);
      });
      remove.push('archivedPromoterIds', ...ACTION_KEYS.map((_, i) => `#p${i}`));
    }
    if (options.events?.length) {
      // The identity's deletion, the request item's change and the events land together: the trail records the
      // destruction in the very write that makes it.
      const result = await this.#chainFor(options.events).write(id, {
        events: options.events,
        request: { remove, names },
        also: [{ Delete: { TableName: this.#identitiesTable, Key: { id } } }],
      });
      if (result.written) {
        await this.#identities.makeFinal();
        return result.links;
      }
      // Refused: the chain ended meanwhile. The identity goes all the same; the events cannot.
      await this.destroyIdentity(id, { forgetProviderIds: options.forgetProviderIds });
      throw new AuditTrailSealedError(id, options.events[0]?.type ?? 'event');
    }
    await this.#update({
      Key: { id },
      UpdateExpression: `REMOVE ${remove.join(', ')}`,
      ConditionExpression: options.forgetProviderIds ? 'attribute_exists(id)' : 'attribute_exists(#identity)',
      ExpressionAttributeNames: names,
    });
    await this.#identities.delete(id);
    return [];
  }

  async destroyStrayIdentities(createdBefore: string): Promise<string[]> {
    const destroyed: string[] = [];
    for (const { id, createdAt } of await this.#identities.listKeys()) {
      const request = await this.#getRequest(id);
      const stray = request ? FINAL_STATUSES.includes(request.status) : createdAt < createdBefore;
      if (!stray) continue;
      await this.#identities.delete(id);
      destroyed.push(id);
    }
    return destroyed;
  }

  async findBySubject(kind: IdentifierKind, pseudonym: string): Promise<ErasureRequest[]> {
    const index =
      kind === 'email' ? REQUESTS_TABLE.indexes.byEmailPseudonym : REQUESTS_TABLE.indexes.byExternalIdPseudonym;
    const projected = await allItems<{ id: string }>((ExclusiveStartKey) =>
      this.#db.send(
        new QueryCommand({
          TableName: this.#table,
          IndexName: index.name,
          KeyConditionExpression: '#pk = :pseudonym',
          ExpressionAttributeNames: { '#pk': index.partitionKey },
          ExpressionAttributeValues: { ':pseudonym': pseudonym },
          ExclusiveStartKey,
        }),
      ),
    );
    // Index reads are eventually consistent and projected; the full items come from the table.
    const requests = await Promise.all(projected.map((item) => this.get(String(item.id))));
    return requests.filter((r): r is ErasureRequest => r !== undefined);
  }

  async subjectStatuses(
    kind: IdentifierKind,
    pseudonyms: readonly string[],
    concurrency: number,
  ): Promise<Map<string, SubjectRequestStatus[]>> {
    const index =
      kind === 'email' ? REQUESTS_TABLE.indexes.byEmailPseudonym : REQUESTS_TABLE.indexes.byExternalIdPseudonym;
    const found = new Map<string, SubjectRequestStatus[]>();
    // DynamoDB has no batched Query: one per pseudonym, a bounded number at once. The index projects status and
    // completedAt, so no item is read from the table.
    await mapWithConcurrency([...new Set(pseudonyms)], concurrency, async (pseudonym) => {
      const items = await allItems<Record<string, unknown>>((ExclusiveStartKey) =>
        this.#db.send(
          new QueryCommand({
            TableName: this.#table,
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

  async listByStatus(
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
    const page = await this.#db.send(
      new QueryCommand({
        TableName: this.#table,
        IndexName: index.name,
        KeyConditionExpression: condition,
        ExpressionAttributeNames: { '#status': index.partitionKey },
        ExpressionAttributeValues: values,
        Limit: range.limit,
        ...(range.startKey ? { ExclusiveStartKey: range.startKey } : {}),
      }),
    );
    return {
      items: (page.Items ?? []).map((item) => toRequest(item as Item)),
      ...(page.LastEvaluatedKey ? { next: page.LastEvaluatedKey } : {}),
    };
  }

  async extendDeadline(
    id: string,
    change: { dueAt: string; extension: DeadlineExtension; now: string },
  ): Promise<ErasureRequest | undefined> {
    const values: Record<string, unknown> = {
      ':dueAt': change.dueAt,
      ':extension': stripUndefined(change.extension),
      ':previousDueAt': change.extension.previousDueAt,
      ':now': change.now,
    };
    OPEN_STATUSES.forEach((status, i) => {
      values[`:open${i}`] = status;
    });
    const updated = await this.#update({
      Key: { id },
      UpdateExpression: 'SET dueAt = :dueAt, extension = :extension',
      // ISO 8601 UTC strings of one format compare as the instants they name.
      ConditionExpression: `attribute_exists(id) AND #status IN (${OPEN_STATUSES.map((_, i) => `:open${i}`).join(', ')}) AND attribute_not_exists(extension) AND dueAt = :previousDueAt AND dueAt >= :now`,
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: values,
      ReturnValues: 'ALL_NEW',
    });
    return updated ? toRequest(updated as unknown as Item) : undefined;
  }

  async listUnfinished(): Promise<ErasureRequest[]> {
    const values: Record<string, unknown> = {};
    FINAL_STATUSES.forEach((status, i) => {
      values[`:f${i}`] = status;
    });
    return this.#scan(`NOT #status IN (${FINAL_STATUSES.map((_, i) => `:f${i}`).join(', ')})`, values, {
      '#status': 'status',
    });
  }

  async #scan(
    filter: string,
    values: Record<string, unknown>,
    names?: Record<string, string>,
  ): Promise<ErasureRequest[]> {
    const items = await allItems<Item>((ExclusiveStartKey) =>
      this.#db.send(
        new ScanCommand({
          TableName: this.#table,
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
}

/** A status move as a change of the request item: what is set and removed, and the status it requires. */
function statusMove(
  from: readonly RequestStatus[],
  to: RequestStatus,
  options: TransitionOptions,
): Required<Pick<RequestWrite, 'set' | 'remove' | 'condition' | 'names' | 'values'>> {
  const names: Record<string, string> = { '#status': 'status' };
  const values: Record<string, unknown> = { ':to': to };
  from.forEach((status, i) => {
    values[`:from${i}`] = status;
  });
  const set = ['#status = :to'];
  if (options.completedAt) {
    set.push('completedAt = :completedAt');
    values[':completedAt'] = options.completedAt;
  }
  if (options.canceledAt) {
    set.push('canceledAt = :canceledAt');
    values[':canceledAt'] = options.canceledAt;
  }
  Object.entries(options.set ?? {}).forEach(([name, value], i) => {
    set.push(`#set${i} = :set${i}`);
    names[`#set${i}`] = name;
    values[`:set${i}`] = value;
  });
  const remove: string[] = [];
  // A request stored before the identities table held its identity itself. `identity` is a DynamoDB reserved word.
  if (options.destroyIdentity) {
    remove.push('#identity');
    names['#identity'] = 'identity';
  }
  const condition = `#status IN (${from.map((_, i) => `:from${i}`).join(', ')})`;
  return { set, remove, condition, names, values };
}

/**
 * Conditions of a guarded write: the request is in one of `whileIn` (never empty: a write without a status condition
 * could land after the request ended); the action's outcome is not `unlessOutcome`; no plan, with `unlessPlanned`.
 */
function guardConditions(
  guard: ActionGuard,
  names: Record<string, string>,
  values: Record<string, unknown>,
  key: ActionKey,
): string[] {
  if (guard.whileIn.length === 0) throw new Error('A guarded write needs at least one status');
  names['#status'] = 'status';
  guard.whileIn.forEach((status, i) => {
    values[`:while${i}`] = status;
  });
  const conditions = [`#status IN (${guard.whileIn.map((_, i) => `:while${i}`).join(', ')})`];
  if (guard.unlessOutcome) {
    names['#guardKey'] = key;
    names['#outcome'] = 'outcome';
    values[':unless'] = guard.unlessOutcome;
    conditions.push('(attribute_not_exists(actions.#guardKey.#outcome) OR actions.#guardKey.#outcome <> :unless)');
  }
  if (guard.unlessPlanned) {
    names['#guardPlan'] = planAttribute(key);
    conditions.push('attribute_not_exists(#guardPlan)');
  }
  return conditions;
}

/** Plans are top-level attributes (`plan:referralrock.members`): a nested map would need creating first, racily. */
const planAttribute = (key: ActionKey) => `plan:${key}`;

/** The request a request item holds, read by another adapter (with other items, in one BatchGetItem). */
export const requestOfItem = (item: Record<string, unknown>): ErasureRequest => toRequest(item as unknown as Item);

/** The request an item holds; a legacy `identity` attribute only when asked for (see `get`). */
function toRequest(item: Item, keepLegacyIdentity = false): ErasureRequest {
  const {
    emailPseudonym: _e,
    externalIdPseudonym: _x,
    identity,
    ...rest
  } = withoutChain(item as Item & Record<string, unknown>);
  if (keepLegacyIdentity && identity !== undefined) Object.assign(rest, { identity });
  const plans: Partial<Record<ActionKey, ActionPlan>> = {};
  const request: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(rest)) {
    if (name.startsWith('plan:')) {
      const { ids, at } = value as ActionPlan;
      plans[name.slice('plan:'.length) as ActionKey] = { ids, at };
    } else request[name] = value;
  }
  const typed = request as unknown as ErasureRequest;
  // Stored before canceledAt existed, a cancel's time was kept as completedAt: read it as what it was.
  if ((typed.status === 'canceling' || typed.status === 'canceled') && typed.completedAt && !typed.canceledAt) {
    const { completedAt, ...canceled } = typed;
    return toRequest({ ...canceled, canceledAt: completedAt } as Item, keepLegacyIdentity);
  }
  return {
    ...typed,
    actions: typed.actions ?? {},
    ...(Object.keys(plans).length ? { plans } : {}),
    ...(typed.archivedPromoterIds ? { archivedPromoterIds: typed.archivedPromoterIds.map(Number) } : {}),
  };
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { CHAIN_LANES, laneChainId } from '#shared/domain/chain';
import { type AuditEvent, type NewAuditEvent, SEALING_EVENTS } from '#shared/domain/model';
import { AuditTrailSealedError } from '#shared/errors';
import type { ChainLink, Clock } from '#shared/ports/audit';
import {
  CHAIN_ATTRIBUTES,
  type ChainView,
  chainOfEvents,
  chainOfItem,
  hintedChain,
  knownChain,
  laneOfEvents,
  rememberChain,
} from './chain-head.ts';
import { type ChainPlan, headUpdate, planEvents, sameHeads, written } from './chain-plan.ts';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from './document-client.ts';
import { allItems } from './paging.ts';

const MAX_ATTEMPTS = 25;

export type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** A change of the request item, in DynamoDB expression pieces, that lands with events in one write. */
export interface RequestWrite {
  set?: string[];
  remove?: string[];
  /** Further condition (besides the item existing), e.g. the status a guarded write requires. */
  condition?: string;
  names?: Record<string, string>;
  values?: Record<string, unknown>;
  /** The item after the write, when it is the only item written (else the write is a transaction, which returns none). */
  returnItem?: boolean;
}

export interface ChainWrite {
  /** Appended in order; one whose key the chain holds already is not appended again. */
  events: readonly NewAuditEvent[];
  request?: RequestWrite;
  /** Further items of the same atomic write (e.g. deleting the identity), written before the request item. */
  also?: readonly TransactItem[];
  /**
   * The head of the request's chain as an earlier step left it (e.g. in the workflow's state), for a writer that has
   * not read the request item: the write is planned on it and holds only if it is still the head, so a stale one
   * costs a retry (the refused write returns the item), never a wrong chain.
   */
  after?: ChainLink;
}

export type ChainWriteResult =
  | { written: true; links: ChainLink[]; item?: Record<string, unknown> }
  | { written: false; links?: undefined; item?: undefined };

/**
 * Appends to a request's hash chain with one conditional write in the common case: the events, a change of the request
 * item and anything else that must land with them go in one TransactWriteItems whose condition on the request item is
 * that its chain head (`chainSeq`) is the one the events link to, and each event's put that its seq is free. The
 * writer knows the head from the one read of the request item its invocation made, or from its own previous append
 * (`chain-head.ts`); a writer whose view was stale (a parallel branch appended meanwhile) re-reads the item and tries
 * again. The head holds the chain's idempotency keys, so a retried step's event is found there and not appended twice,
 * and the sealed flag, so once `request.completed`/`request.canceled` is in, the condition refuses every later event.
 *
 * An event with a `lane` goes to that lane of the trail (`CHAIN_LANES` in `chain.ts`): its own chain, whose head is an
 * attribute of the request item apart (`lane:<lane>`), so the condition of a lane write names only that lane's head
 * (and that the trail is not sealed): the parallel branches, one lane each, never refuse each other's writes. A
 * sealing event commits to every lane's head (`data.lanes`), and its write holds only if no lane moved since.
 *
 * A chain with no request item (a callback delivery log) and a trail from before heads were kept are read from the
 * events (the next write of the latter stores its head); so are events found ahead of the head, which only a write
 * cut off between its items can leave (the local DynamoDB wrote a transaction's items one by one, the request item
 * last, before its writes went to LevelDB as one batch: a data directory from then may hold such events).
 */
export class AuditChain {
  readonly #db: DynamoDBDocumentClient;
  readonly #requests: string | undefined;
  readonly #events: string;
  readonly #clock: Clock;
  readonly #retentionDays: number;

  constructor(
    db: DynamoDBDocumentClient,
    tables: { requests?: string; auditEvents: string },
    options: { clock: Clock; retentionDays: number },
  ) {
    this.#db = db;
    this.#requests = tables.requests;
    this.#events = tables.auditEvents;
    this.#clock = options.clock;
    this.#retentionDays = options.retentionDays;
  }

  /**
   * Writes `events` (those not in the chain yet) with the request item's change, all or nothing.
   * @returns `written: false` when the request's own condition did not hold (or the chain is sealed and the write
   *   changes the request too): nothing was written. `links` are the events' places, appended or found.
   * @throws AuditTrailSealedError when events alone are to be appended after the chain's sealing event
   */
  async write(chainId: string, write: ChainWrite): Promise<ChainWriteResult> {
    let view = knownChain(chainId);
    if (view === undefined && write.after) view = hintedChain(write.after);
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      if (view === undefined) view = await this.#read(chainId);
      if (view === null) return this.#appendWithoutHead(chainId, write, attempt);
      const plan = this.plan(chainId, view, write.events);
      if (plan.pending.length > 0 && view.sealed) {
        if (write.request || write.also?.length) return { written: false };
        throw new AuditTrailSealedError(chainId, plan.pending[0]?.type ?? 'event');
      }
      const update = headUpdate(this.#requests as string, chainId, view, plan, write.request);
      const items: TransactItem[] = [
        ...plan.pending.map((Item) => ({
          Put: { TableName: this.#events, Item, ConditionExpression: 'attribute_not_exists(seq)' },
        })),
        ...(write.also ?? []),
        // A write that fails on a moved head gets the item back, so the retry needs no read.
        ...(update ? [{ Update: { ...update, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const } }] : []),
      ];
      if (items.length === 0) return { written: true, links: plan.links };
      try {
        const item = await this.#send(items, write.request?.returnItem === true);
        // A carried-over head does not know the chain's keys and lanes: the next write of this invocation reads them.
        if (!view.hinted) rememberChain(chainId, plan.pending.length > 0 ? written(plan) : view);
        return { written: true, links: plan.links, ...(item ? { item } : {}) };
      } catch (error) {
        const failure = failedItems(error, items.length);
        if (!failure) throw error;
        if (failure === 'conflict') {
          view = undefined;
          await backoff(attempt);
          continue;
        }
        const requestFailed = update !== undefined && failure.failed.has(items.length - 1);
        if (!requestFailed) {
          // An event's place is taken though the head the item holds said it was free: the events table is ahead
          // of the head (see the class comment). Read the chain from the events.
          view = await this.#readEvents(chainId);
          continue;
        }
        // The request's own condition, or the head the events link to: the item as it is now tells which (returned
        // with the failure where the store does, else read).
        if (plan.pending.length === 0) return { written: false };
        const fresh = failure.item ? chainOfItem(failure.item) : await this.#read(chainId);
        // A carried-over head is checked again against the item as it is (its keys and lanes were not known).
        if (!fresh || (!view.hinted && sameHeads(fresh, view))) return { written: false };
        rememberChain(chainId, fresh);
        view = fresh;
      }
    }
    throw new Error(`Could not append to the audit trail of ${chainId}: too much contention`);
  }

  /** The event that ended the chain, if one did: from the request item's head where it holds it. */
  async seal(chainId: string): Promise<AuditEvent | undefined> {
    let view = knownChain(chainId);
    if (view === undefined) view = await this.#read(chainId);
    if (view?.seal || (view && !view.sealed)) return view.seal;
    return (await this.list(chainId)).find((e) => SEALING_EVENTS.includes(e.type));
  }

  /** The event with idempotency key `key`, read only when the chain's head lists the key. */
  async find(chainId: string, key: string): Promise<AuditEvent | undefined> {
    let view = knownChain(chainId);
    if (view === undefined) view = await this.#read(chainId);
    if (view === null) return (await this.list(chainId)).find((e) => e.key === key);
    const lane = Object.keys(view.lanes).find((name) => view.lanes[name]?.keys[key]);
    const link = view.keys[key] ?? (lane ? view.lanes[lane]?.keys[key] : undefined);
    if (!link) return undefined;
    const partition = view.keys[key] || !lane ? chainId : laneChainId(chainId, lane);
    const { Item } = await this.#db.send(
      new GetCommand({ TableName: this.#events, Key: { requestId: partition, seq: link.seq }, ConsistentRead: true }),
    );
    return Item as AuditEvent | undefined;
  }

  /** The events of each lane of the request's trail that has any, by lane name (one query per lane, at once). */
  async lanes(chainId: string): Promise<Record<string, AuditEvent[]>> {
    const found = await Promise.all(
      CHAIN_LANES.map(async (lane) => [lane, await this.list(laneChainId(chainId, lane))] as const),
    );
    return Object.fromEntries(found.filter(([, events]) => events.length > 0));
  }

  async list(chainId: string): Promise<AuditEvent[]> {
    return allItems<AuditEvent>((ExclusiveStartKey) =>
      this.#db.send(
        new QueryCommand({
          TableName: this.#events,
          KeyConditionExpression: 'requestId = :id',
          ExpressionAttributeValues: { ':id': chainId },
          ConsistentRead: true,
          ExclusiveStartKey,
        }),
      ),
    );
  }

  /** The events table. */
  get eventsTable(): string {
    return this.#events;
  }

  /**
   * The events not in the trail yet, each linked after the head of its chain (the request's, or its lane's), and the
   * heads they make (nothing is written). A sealing event's data gains the lane heads it commits to.
   */
  plan(chainId: string, view: ChainView, events: readonly NewAuditEvent[]): ChainPlan {
    return planEvents(chainId, view, events, { now: this.#clock.now(), retentionDays: this.#retentionDays });
  }

  /** One item as its own conditional write (no transaction needed), or all of them in one transaction. */
  async #send(items: TransactItem[], returnItem: boolean): Promise<Record<string, unknown> | undefined> {
    const only = items.length === 1 ? items[0] : undefined;
    if (only?.Update) {
      const { ReturnValuesOnConditionCheckFailure: _old, ...update } = only.Update;
      const { Attributes } = await this.#db.send(
        new UpdateCommand({ ...update, ...(returnItem ? { ReturnValues: 'ALL_NEW' } : {}) }),
      );
      return Attributes;
    }
    if (only?.Put) {
      await this.#db.send(new PutCommand(only.Put));
      return undefined;
    }
    await this.#db.send(new TransactWriteCommand({ TransactItems: items }));
    return undefined;
  }

  /** The head the request item holds (read from the events for an item from before heads were kept); null: no item. */
  async #read(chainId: string): Promise<ChainView | null> {
    if (!this.#requests) return null;
    // Lane attributes hold `:` and `.`: named, as every attribute of the projection is.
    const names = Object.fromEntries(['id', ...CHAIN_ATTRIBUTES].map((name, i) => [`#a${i}`, name]));
    const { Item } = await this.#db.send(
      new GetCommand({
        TableName: this.#requests,
        Key: { id: chainId },
        ProjectionExpression: Object.keys(names).join(', '),
        ExpressionAttributeNames: names,
        ConsistentRead: true,
      }),
    );
    if (!Item) {
      rememberChain(chainId, null);
      return null;
    }
    const view = chainOfItem(Item) ?? chainOfEvents(await this.list(chainId), undefined);
    rememberChain(chainId, view);
    return view;
  }

  /** The head as the events give it, with what the item holds as the head to replace. */
  async #readEvents(chainId: string): Promise<ChainView> {
    const item = await this.#read(chainId);
    // The heads to replace stay those the item holds: each write's condition names them.
    const lanes = Object.fromEntries(
      Object.entries(await this.lanes(chainId)).map(([lane, events]) => [
        lane,
        laneOfEvents(events, item?.lanes[lane]?.itemSeq ?? 0),
      ]),
    );
    const view = chainOfEvents(await this.list(chainId), item?.itemSeq, lanes);
    rememberChain(chainId, view);
    return view;
  }

  /**
   * A chain with no request item to hold its head (a callback delivery log): each event goes in by a conditional put
   * at the next seq of the chain as read, so racing writers cannot take the same place; the loser reads again.
   */
  async #appendWithoutHead(chainId: string, write: ChainWrite, firstAttempt: number): Promise<ChainWriteResult> {
    // A lane is sealed with its request through the heads on the request item: without one it could not be.
    if (write.request || write.also?.length || write.events.some((e) => e.lane)) {
      throw new Error(`No request item holds the chain ${chainId}`);
    }
    const links: ChainLink[] = [];
    for (const event of write.events) {
      for (let attempt = firstAttempt; ; attempt++) {
        if (attempt > MAX_ATTEMPTS) throw new Error(`Could not append to ${chainId}: too much contention`);
        const view = chainOfEvents(await this.list(chainId), undefined);
        const plan = this.plan(chainId, view, [event]);
        const [item] = plan.pending;
        if (!item) {
          links.push(...plan.links);
          break;
        }
        if (view.sealed) throw new AuditTrailSealedError(chainId, event.type);
        try {
          await this.#db.send(
            new PutCommand({ TableName: this.#events, Item: item, ConditionExpression: 'attribute_not_exists(seq)' }),
          );
          links.push(...plan.links);
          break;
        } catch (error) {
          if (!(error instanceof ConditionalCheckFailedException)) throw error;
          await backoff(attempt);
        }
      }
    }
    return { written: true, links };
  }
}

/**
 * Which items' conditions failed (by index) and the request item as it was (where the store returned it), 'conflict'
 * for a transaction that collided with another (DynamoDB cancels one of two concurrent transactions on an item:
 * retried), or undefined for any other error.
 */
function failedItems(
  error: unknown,
  count: number,
): { failed: Set<number>; item?: Record<string, unknown> } | 'conflict' | undefined {
  if (error instanceof ConditionalCheckFailedException) return { failed: new Set(count === 1 ? [0] : []) };
  if (!(error instanceof TransactionCanceledException)) return undefined;
  const reasons = error.CancellationReasons ?? [];
  if (reasons.some((r) => r.Code === 'TransactionConflict')) return 'conflict';
  const failed = new Set(reasons.flatMap((r, i) => (r.Code === 'ConditionalCheckFailed' ? [i] : [])));
  if (failed.size === 0) return undefined;
  const returned = reasons[count - 1]?.Item;
  return { failed, ...(returned ? { item: unmarshall(returned) } : {}) };
}

/** Jittered, growing with the attempt: writers that collided do not retry in step. */
const backoff = (attempt: number) => new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));

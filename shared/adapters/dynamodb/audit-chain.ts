import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { hashEvent } from '#shared/domain/chain';
import { addDays, epochSeconds } from '#shared/domain/dates';
import { type AuditEvent, type NewAuditEvent, SEALING_EVENTS } from '#shared/domain/model';
import { AuditTrailSealedError } from '#shared/errors';
import type { ChainLink, Clock } from '#shared/ports/audit';
import {
  CHAIN_ATTRIBUTES,
  type ChainView,
  chainOfEvents,
  chainOfItem,
  knownChain,
  rememberChain,
} from './chain-head.ts';
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
 * A chain with no request item (a callback delivery log) and a trail from before heads were kept are read from the
 * events (the next write of the latter stores its head); so are events found ahead of the head, which only a write
 * cut off between its items can leave (the local DynamoDB is not crash-atomic; the request item is written last).
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
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      if (view === undefined) view = await this.#read(chainId);
      if (view === null) return this.#appendWithoutHead(chainId, write, attempt);
      const plan = this.plan(chainId, view, write.events);
      if (plan.pending.length > 0 && view.sealed) {
        if (write.request || write.also?.length) return { written: false };
        throw new AuditTrailSealedError(chainId, plan.pending[0]?.type ?? 'event');
      }
      const update = this.#requestUpdate(chainId, view, plan, write.request);
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
        rememberChain(chainId, plan.pending.length > 0 ? { ...plan.next, itemSeq: plan.next.seq } : view);
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
        if (!fresh || (fresh.itemSeq === view.itemSeq && fresh.sealed === view.sealed)) return { written: false };
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
    const link = view.keys[key];
    if (!link) return undefined;
    const { Item } = await this.#db.send(
      new GetCommand({ TableName: this.#events, Key: { requestId: chainId, seq: link.seq }, ConsistentRead: true }),
    );
    return Item as AuditEvent | undefined;
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

  /** The events not in the chain yet, linked after the view's head, and the head they make (nothing is written). */
  plan(chainId: string, view: ChainView, events: readonly NewAuditEvent[]): ChainPlan {
    const next: ChainView = { ...view, keys: { ...view.keys } };
    const pending: AuditEvent[] = [];
    const links: ChainLink[] = [];
    const now = this.#clock.now();
    for (const event of events) {
      const known = event.key === undefined ? undefined : next.keys[event.key];
      if (known) {
        links.push(known);
        continue;
      }
      const seq = next.seq + 1;
      const unsigned = {
        requestId: chainId,
        seq,
        type: event.type,
        at: now.toISOString(),
        actor: event.actor,
        data: event.data,
        key: event.key ?? `${event.type}#${seq}`,
        prevHash: next.hash,
      };
      const item: AuditEvent = {
        ...unsigned,
        hash: hashEvent(unsigned),
        expiresAt: epochSeconds(addDays(now, this.#retentionDays)),
      };
      pending.push(item);
      links.push({ seq, hash: item.hash });
      next.seq = seq;
      next.hash = item.hash;
      next.keys[item.key] = { seq, hash: item.hash };
      if (SEALING_EVENTS.includes(item.type)) {
        next.sealed = true;
        next.seal = item;
      }
    }
    return { pending, links, next };
  }

  #requestUpdate(chainId: string, view: ChainView, plan: ChainPlan, request: RequestWrite | undefined) {
    if (plan.pending.length === 0 && !request) return undefined;
    const set = [...(request?.set ?? [])];
    const names: Record<string, string> = { ...request?.names };
    const values: Record<string, unknown> = { ...request?.values };
    const conditions = ['attribute_exists(id)'];
    if (plan.pending.length > 0) {
      set.push('chainSeq = :chainSeq', 'chainHash = :chainHash', 'chainKeys = :chainKeys');
      Object.assign(values, { ':chainSeq': plan.next.seq, ':chainHash': plan.next.hash, ':chainKeys': plan.next.keys });
      if (plan.next.seal && !view.sealed) {
        set.push('chainSealed = :chainSealed');
        values[':chainSealed'] = plan.next.seal;
      }
      if (view.itemSeq === undefined) conditions.push('attribute_not_exists(chainSeq)');
      else {
        conditions.push('chainSeq = :chainExpected');
        values[':chainExpected'] = view.itemSeq;
      }
    }
    if (request?.condition) conditions.push(`(${request.condition})`);
    const expression = [
      set.length ? `SET ${set.join(', ')}` : '',
      request?.remove?.length ? `REMOVE ${request.remove.join(', ')}` : '',
    ]
      .filter(Boolean)
      .join(' ');
    return {
      TableName: this.#requests as string,
      Key: { id: chainId },
      UpdateExpression: expression,
      ConditionExpression: conditions.join(' AND '),
      ...(Object.keys(names).length ? { ExpressionAttributeNames: names } : {}),
      ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
    };
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
    const { Item } = await this.#db.send(
      new GetCommand({
        TableName: this.#requests,
        Key: { id: chainId },
        ProjectionExpression: ['id', ...CHAIN_ATTRIBUTES].join(', '),
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
    const view = chainOfEvents(await this.list(chainId), item?.itemSeq);
    rememberChain(chainId, view);
    return view;
  }

  /**
   * A chain with no request item to hold its head (a callback delivery log): each event goes in by a conditional put
   * at the next seq of the chain as read, so racing writers cannot take the same place; the loser reads again.
   */
  async #appendWithoutHead(chainId: string, write: ChainWrite, firstAttempt: number): Promise<ChainWriteResult> {
    if (write.request || write.also?.length) throw new Error(`No request item holds the chain ${chainId}`);
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

export interface ChainPlan {
  /** The events to put, linked in order after the view's head. */
  pending: AuditEvent[];
  /** Each given event's place, appended now or found in the chain. */
  links: ChainLink[];
  /** The head once the pending events are in. */
  next: ChainView;
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

import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { GENESIS_HASH, hashEvent } from '#shared/domain/chain';
import { addDays, epochSeconds } from '#shared/domain/dates';
import { type AuditEvent, type NewAuditEvent, SEALING_EVENTS } from '#shared/domain/model';
import { AuditTrailSealedError } from '#shared/errors';
import type { AppendOptions, AuditLog, Clock } from '#shared/ports/audit';
import { currentInvocationBudget } from '#shared/workflow/invocation-budget';
import { allItems } from './paging.ts';

const MAX_APPEND_ATTEMPTS = 25;

/**
 * The events table: append-only and hash-chained. An event goes in with a conditional put at the next sequence number,
 * so two writers racing (parallel workflow branches) cannot both take the same place: the loser re-reads and retries.
 * A sealing event (`request.completed`, `request.canceled`) at the head ends the chain: the next place is only taken
 * after a consistent read of the whole chain found no seal, and the seal takes that place first otherwise, so no event
 * can land after the end.
 * The stack's IAM grants put/get/query only, so not even this code could update or delete an event.
 *
 * Round trips: an append reads the chain only when it does not know it. Within one workflow task invocation, the chain
 * it read or wrote is remembered, so its next append is one conditional put. That is safe with any stale view: a put
 * at `known head + 1` succeeds only if nothing was appended after what the writer knows, and then its view was the
 * whole chain (no seal, no event with its key); a put that fails re-reads the chain and decides again. The view lives
 * no longer than the invocation, so a warm Lambda container never starts from another invocation's view.
 */
export class DynamoAuditLog implements AuditLog {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #clock: Clock;
  readonly #retentionDays: number;

  constructor(db: DynamoDBDocumentClient, tableName: string, options: { clock: Clock; retentionDays: number }) {
    this.#db = db;
    this.#table = tableName;
    this.#clock = options.clock;
    this.#retentionDays = options.retentionDays;
  }

  async append(requestId: string, event: NewAuditEvent, options: AppendOptions = {}): Promise<AuditEvent> {
    let known = options.chain ?? knownChain(requestId);
    for (let attempt = 1; attempt <= MAX_APPEND_ATTEMPTS; attempt++) {
      const fresh = known === undefined;
      const events = known ?? (await this.list(requestId));
      known = undefined;
      const key = event.key ?? `${event.type}#${events.length + 1}`;
      const existing = event.key ? events.find((e) => e.key === event.key) : undefined;
      if (existing) return existing;
      if (events.some((e) => SEALING_EVENTS.includes(e.type))) throw new AuditTrailSealedError(requestId, event.type);

      const last = events.at(-1);
      const now = this.#clock.now();
      const unsigned = {
        requestId,
        seq: (last?.seq ?? 0) + 1,
        type: event.type,
        at: now.toISOString(),
        actor: event.actor,
        data: event.data,
        key,
        prevHash: last?.hash ?? GENESIS_HASH,
      };
      const item: AuditEvent = {
        ...unsigned,
        hash: hashEvent(unsigned),
        expiresAt: epochSeconds(addDays(now, this.#retentionDays)),
      };
      try {
        await this.#db.send(
          new PutCommand({ TableName: this.#table, Item: item, ConditionExpression: 'attribute_not_exists(seq)' }),
        );
        rememberChain(requestId, [...events, item]);
        return item;
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        // A view that was only remembered is re-read at once; two writers racing on a fresh read back off.
        if (fresh) await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
      }
    }
    throw new Error(`Could not append audit event ${event.type}: too much contention`);
  }

  async list(requestId: string): Promise<AuditEvent[]> {
    const events = await allItems<AuditEvent>((ExclusiveStartKey) =>
      this.#db.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: 'requestId = :id',
          ExpressionAttributeValues: { ':id': requestId },
          ConsistentRead: true,
          ExclusiveStartKey,
        }),
      ),
    );
    rememberChain(requestId, events);
    return events;
  }
}

/** The chains each invocation read or wrote, by request id; gone with the invocation (see the class comment). */
const chains = new WeakMap<object, Map<string, readonly AuditEvent[]>>();

function knownChain(requestId: string): readonly AuditEvent[] | undefined {
  const invocation = currentInvocationBudget();
  return invocation && chains.get(invocation)?.get(requestId);
}

function rememberChain(requestId: string, events: readonly AuditEvent[]): void {
  const invocation = currentInvocationBudget();
  if (!invocation) return;
  const known = chains.get(invocation) ?? new Map<string, readonly AuditEvent[]>();
  chains.set(invocation, known);
  known.set(requestId, [...events]);
}

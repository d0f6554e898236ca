import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { GENESIS_HASH, hashEvent } from '#shared/domain/chain';
import { addDays, epochSeconds } from '#shared/domain/dates';
import { type AuditEvent, type NewAuditEvent, SEALING_EVENTS } from '#shared/domain/model';
import { AuditTrailSealedError } from '#shared/errors';
import type { AuditLog, Clock } from '#shared/ports/audit';
import { allItems } from './paging.ts';

const MAX_APPEND_ATTEMPTS = 25;

/**
 * The events table: append-only and hash-chained. An event goes in with a conditional put at the next sequence number,
 * so two writers racing (parallel workflow branches) cannot both take the same place: the loser re-reads and retries.
 * A sealing event (`request.completed`, `request.canceled`) at the head ends the chain: the next place is only taken
 * after a consistent read of the whole chain found no seal, and the seal takes that place first otherwise, so no event
 * can land after the end.
 * The stack's IAM grants put/get/query only, so not even this code could update or delete an event.
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

  async append(requestId: string, event: NewAuditEvent): Promise<AuditEvent> {
    for (let attempt = 1; attempt <= MAX_APPEND_ATTEMPTS; attempt++) {
      const events = await this.list(requestId);
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
        return item;
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
      }
    }
    throw new Error(`Could not append audit event ${event.type}: too much contention`);
  }

  async list(requestId: string): Promise<AuditEvent[]> {
    return allItems<AuditEvent>((ExclusiveStartKey) =>
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
  }
}

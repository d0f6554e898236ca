import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type ProviderName, RetryLaterError } from '#shared/errors';
import type { RateBudget } from '#shared/ports/rate-budget';
import { emissionIntervalMs, missedSlot, nextSlot } from '#shared/rate/gcra';
import { sleepUnlessAborted } from '#shared/workflow/invocation-budget';
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from './document-client.ts';
import { RATE_BUDGETS_TABLE } from './tables.ts';

/**
 * The budget key of a provider account: the provider and a fingerprint of where and as whom it is called, never the
 * credential itself. Two deployments calling the same account with the same settings share one budget.
 */
export function rateBudgetKey(provider: ProviderName, baseUrl: string, accountId: string): string {
  const fingerprint = createHash('sha256').update(`${baseUrl}\n${accountId}`).digest('hex').slice(0, 16);
  return `${provider}#${fingerprint}`;
}

export interface DynamoRateBudgetOptions {
  /** From {@link rateBudgetKey}. */
  key: string;
  /** The provider's ceiling: requests per minute. */
  limitPerMinute: number;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Races with other takers are retried; this many lost in a row means something is wrong. */
const MAX_RACES = 50;

/**
 * A provider account's {@link RateBudget} in DynamoDB, shared by every process and Lambda instance: one item per
 * account holding the GCRA theoretical arrival time (`tat`, epoch ms). A slot is taken with one conditional update;
 * concurrent takers each get their own slot, one emission interval apart, and wait for it.
 *
 * - backlog (`tat` at or after now): `SET tat = tat + interval IF tat BETWEEN now AND latestStart`; the slot is the old `tat`;
 * - idle (`tat` before now, or no item): `SET tat = now + interval IF tat < now`; the slot is now;
 * - otherwise a read tells whether the next slot lies past `latestStart` (then nothing is taken: `RetryLaterError`)
 *   or another taker moved `tat` in between (try again).
 *
 * A taker woken more than a second after its slot lets it go and takes another (once), so a request delayed on its
 * own does not leave late enough to crowd the provider's window (see `#shared/rate/gcra`).
 */
export class DynamoRateBudget implements RateBudget {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #key: string;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Last `tat` seen: picks which of the two updates to try first. */
  #lastTat = 0;

  constructor(db: DynamoDBDocumentClient, tableName: string, options: DynamoRateBudgetOptions) {
    this.#db = db;
    this.#table = tableName;
    this.#key = options.key;
    this.#intervalMs = emissionIntervalMs(options.limitPerMinute);
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? sleepUnlessAborted;
  }

  async acquire(options: { latestStartAt?: number; signal?: AbortSignal } = {}): Promise<void> {
    // Whole milliseconds, like every slot time (see emissionIntervalMs).
    const latestStartAt = Math.floor(options.latestStartAt ?? Number.MAX_SAFE_INTEGER);
    let letGo = false;
    for (let race = 0; race < MAX_RACES; race++) {
      const now = this.#now();
      const startAt =
        this.#lastTat >= now
          ? ((await this.#takeQueued(now, latestStartAt)) ?? (await this.#takeIdle(now)))
          : ((await this.#takeIdle(now)) ?? (await this.#takeQueued(now, latestStartAt)));
      if (startAt !== undefined) {
        if (startAt > now) await this.#sleep(startAt - now, options.signal);
        // Woken too late (a busy process): sending now could crowd the provider's window; the slot is let go, once:
        // late again means the whole process lags, which delays every request alike and crowds nothing.
        if (letGo || !missedSlot(startAt, this.#now())) return;
        letGo = true;
        continue;
      }
      const tat = await this.#read();
      const slot = nextSlot(tat, now, this.#intervalMs);
      if (slot.startAt > now && slot.startAt > latestStartAt) {
        throw new RetryLaterError(slot.startAt - now, 'rate budget');
      }
    }
    throw new Error(`rate budget ${this.#key}: no slot taken in ${MAX_RACES} tries`);
  }

  async holdUntil(until: number): Promise<void> {
    await this.#update('SET tat = :until', 'attribute_not_exists(tat) OR tat < :until', { ':until': until });
  }

  /** The slot after the last one taken, if the budget has a queue and that slot starts by `latestStartAt`. */
  async #takeQueued(now: number, latestStartAt: number): Promise<number | undefined> {
    const tat = await this.#update('SET tat = tat + :interval', 'tat BETWEEN :now AND :latest', {
      ':interval': this.#intervalMs,
      ':now': now,
      // A slot starting now is always taken (see RateBudget.acquire).
      ':latest': Math.max(latestStartAt, now),
    });
    return tat === undefined ? undefined : tat - this.#intervalMs;
  }

  /** The slot now, if nobody holds one from now on. */
  async #takeIdle(now: number): Promise<number | undefined> {
    const tat = await this.#update('SET tat = :next', 'attribute_not_exists(tat) OR tat < :now', {
      ':next': now + this.#intervalMs,
      ':now': now,
    });
    return tat === undefined ? undefined : now;
  }

  /** The new `tat`, or undefined when the condition did not hold. */
  async #update(update: string, condition: string, values: Record<string, number>): Promise<number | undefined> {
    try {
      const { Attributes } = await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { [RATE_BUDGETS_TABLE.partitionKey]: this.#key },
          UpdateExpression: update,
          ConditionExpression: condition,
          ExpressionAttributeValues: values,
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      this.#lastTat = Number(Attributes?.tat);
      return this.#lastTat;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  async #read(): Promise<number | undefined> {
    const { Item } = await this.#db.send(
      new GetCommand({
        TableName: this.#table,
        Key: { [RATE_BUDGETS_TABLE.partitionKey]: this.#key },
        ConsistentRead: true,
      }),
    );
    const tat = Item?.tat === undefined ? undefined : Number(Item.tat);
    if (tat !== undefined) this.#lastTat = tat;
    return tat;
  }
}

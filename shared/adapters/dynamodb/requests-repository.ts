import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { IdentifierKind } from '#shared/crypto/pseudonym';
import {
  type ActionKey,
  type ActionRecord,
  type ErasureRequest,
  FINAL_STATUSES,
  type RequestStatus,
} from '#shared/domain/model';
import type { CreateResult, RequestRepository } from '#shared/ports/audit';
import { REQUESTS_TABLE } from './tables.ts';

type Item = ErasureRequest & { emailPseudonym?: string; externalIdPseudonym?: string };

/** The requests table: one item per request, changed only by conditional writes. */
export class DynamoRequestRepository implements RequestRepository {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.#db = db;
    this.#table = tableName;
  }

  async create(request: ErasureRequest): Promise<CreateResult> {
    const item: Item = {
      ...request,
      // Top-level copies feed the pseudonym indexes (an index key cannot be a nested attribute).
      ...(request.subject.emailPseudonym ? { emailPseudonym: request.subject.emailPseudonym } : {}),
      ...(request.subject.externalIdPseudonym ? { externalIdPseudonym: request.subject.externalIdPseudonym } : {}),
    };
    try {
      await this.#db.send(
        new PutCommand({ TableName: this.#table, Item: item, ConditionExpression: 'attribute_not_exists(id)' }),
      );
      return { created: true, request };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const existing = await this.get(request.id);
      if (!existing) throw error;
      return { created: false, request: existing };
    }
  }

  async get(id: string): Promise<ErasureRequest | undefined> {
    const { Item } = await this.#db.send(new GetCommand({ TableName: this.#table, Key: { id }, ConsistentRead: true }));
    return Item ? toRequest(Item as Item) : undefined;
  }

  async transition(
    id: string,
    from: readonly RequestStatus[],
    to: RequestStatus,
    options: { completedAt?: string; destroyIdentity?: boolean } = {},
  ): Promise<ErasureRequest | undefined> {
    const names: Record<string, string> = { '#status': 'status' };
    const values: Record<string, unknown> = { ':to': to };
    from.forEach((status, i) => {
      values[`:from${i}`] = status;
    });
    let update = 'SET #status = :to';
    if (options.completedAt) {
      update += ', completedAt = :completedAt';
      values[':completedAt'] = options.completedAt;
    }
    // `identity` is a DynamoDB reserved word: it goes through an attribute name placeholder.
    if (options.destroyIdentity) {
      update += ' REMOVE #identity';
      names['#identity'] = 'identity';
    }
    try {
      const { Attributes } = await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { id },
          UpdateExpression: update,
          ConditionExpression: `attribute_exists(id) AND #status IN (${from.map((_, i) => `:from${i}`).join(', ')})`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toRequest(Attributes as Item);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  async recordAction(id: string, key: ActionKey, record: ActionRecord): Promise<void> {
    await this.#db.send(
      new UpdateCommand({
        TableName: this.#table,
        Key: { id },
        UpdateExpression: 'SET actions.#key = :record',
        ConditionExpression: 'attribute_exists(id)',
        ExpressionAttributeNames: { '#key': key },
        ExpressionAttributeValues: { ':record': stripUndefined(record) },
      }),
    );
  }

  async planPromoterArchive(id: string, promoterIds: readonly number[]): Promise<number[]> {
    const { Attributes } = await this.#db.send(
      new UpdateCommand({
        TableName: this.#table,
        Key: { id },
        UpdateExpression: 'SET promoterIdsToArchive = if_not_exists(promoterIdsToArchive, :ids)',
        ConditionExpression: 'attribute_exists(id)',
        ExpressionAttributeValues: { ':ids': [...promoterIds] },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return ((Attributes as Item).promoterIdsToArchive ?? []).map(Number);
  }

  async recordArchivedPromoters(
    id: string,
    promoterIds: readonly number[],
    whileIn: readonly RequestStatus[],
  ): Promise<boolean> {
    const values: Record<string, unknown> = { ':ids': [...promoterIds] };
    whileIn.forEach((status, i) => {
      values[`:s${i}`] = status;
    });
    try {
      await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { id },
          UpdateExpression: 'SET archivedPromoterIds = :ids',
          ConditionExpression: `#status IN (${whileIn.map((_, i) => `:s${i}`).join(', ')})`,
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async destroyIdentity(id: string): Promise<void> {
    await this.#db.send(
      new UpdateCommand({
        TableName: this.#table,
        Key: { id },
        UpdateExpression: 'REMOVE #identity',
        ConditionExpression: 'attribute_exists(id)',
        ExpressionAttributeNames: { '#identity': 'identity' },
      }),
    );
  }

  async findBySubject(kind: IdentifierKind, pseudonym: string): Promise<ErasureRequest[]> {
    const index =
      kind === 'email' ? REQUESTS_TABLE.indexes.byEmailPseudonym : REQUESTS_TABLE.indexes.byExternalIdPseudonym;
    const ids: string[] = [];
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await this.#db.send(
        new QueryCommand({
          TableName: this.#table,
          IndexName: index.name,
          KeyConditionExpression: '#pk = :pseudonym',
          ExpressionAttributeNames: { '#pk': index.partitionKey },
          ExpressionAttributeValues: { ':pseudonym': pseudonym },
          ExclusiveStartKey,
        }),
      );
      for (const item of page.Items ?? []) ids.push(String(item.id));
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    // Index reads are eventually consistent and projected; the full items come from the table.
    const requests = await Promise.all(ids.map((id) => this.get(id)));
    return requests.filter((r): r is ErasureRequest => r !== undefined);
  }

  async listUnfinished(): Promise<ErasureRequest[]> {
    const values: Record<string, unknown> = {};
    FINAL_STATUSES.forEach((status, i) => {
      values[`:f${i}`] = status;
    });
    const results: ErasureRequest[] = [];
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await this.#db.send(
        new ScanCommand({
          TableName: this.#table,
          FilterExpression: `NOT #status IN (${FINAL_STATUSES.map((_, i) => `:f${i}`).join(', ')})`,
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: values,
          ConsistentRead: true,
          ExclusiveStartKey,
        }),
      );
      for (const item of page.Items ?? []) results.push(toRequest(item as Item));
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return results;
  }
}

function toRequest(item: Item): ErasureRequest {
  const { emailPseudonym: _e, externalIdPseudonym: _x, ...request } = item;
  return {
    ...request,
    actions: request.actions ?? {},
    ...(request.archivedPromoterIds ? { archivedPromoterIds: request.archivedPromoterIds.map(Number) } : {}),
  };
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand, ScanCommand } from './document-client.ts';
import { allItems } from './paging.ts';

/** An item of the identities table (`tables.ts`, IDENTITIES_TABLE). */
export interface IdentityItem {
  /** The request id. */
  id: string;
  /** AES-256-GCM ciphertext of the identity, bound to the request id. */
  identity: string;
  /** The request's payload hash: tells a redelivery (same payload) from a reused webhook-id (another payload). */
  payloadHash: string;
  /** ISO time of the write: an identity without a request is a stray only once intake has had time to finish. */
  createdAt: string;
  /** Epoch seconds when DynamoDB TTL removes the item if nothing deleted it before. */
  expiresAt: number;
}

/**
 * Runs after an identity was deleted and before the deletion is reported done. Where the store keeps deleted bytes
 * around (dynalite's LevelDB keeps them in its log and table files until compaction) it makes the deletion final; in
 * AWS there is nothing to do (the table has no backups, and DynamoDB does not serve deleted items).
 */
export type MakeDeletionFinal = () => Promise<void>;

/** The identities table: the one place an encrypted identity is stored, and where deleting it is final. */
export class DynamoIdentityTable {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #makeDeletionFinal: MakeDeletionFinal | undefined;

  constructor(db: DynamoDBDocumentClient, tableName: string, makeDeletionFinal?: MakeDeletionFinal) {
    this.#db = db;
    this.#table = tableName;
    this.#makeDeletionFinal = makeDeletionFinal;
  }

  /**
   * Stores an identity unless another payload's identity holds its id; the same payload's identity is replaced (it
   * decrypts to the same identity), so a redelivery never leaves two.
   * @returns false when an identity of a different payload is stored under this id
   */
  async put(item: IdentityItem): Promise<boolean> {
    try {
      await this.#db.send(
        new PutCommand({
          TableName: this.#table,
          Item: item,
          ConditionExpression: 'attribute_not_exists(id) OR payloadHash = :payloadHash',
          ExpressionAttributeValues: { ':payloadHash': item.payloadHash },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** The ciphertext stored for a request, if any (the provider tasks read it with their request item instead). */
  async get(id: string): Promise<string | undefined> {
    const { Item } = await this.#db.send(
      new GetCommand({
        TableName: this.#table,
        Key: { id },
        ProjectionExpression: '#identity',
        // `identity` is a DynamoDB reserved word.
        ExpressionAttributeNames: { '#identity': 'identity' },
        ConsistentRead: true,
      }),
    );
    return typeof Item?.identity === 'string' ? Item.identity : undefined;
  }

  /** Deletes a request's identity (idempotent) and makes the deletion final before returning. */
  async delete(id: string): Promise<void> {
    await this.#db.send(new DeleteCommand({ TableName: this.#table, Key: { id } }));
    await this.makeFinal();
  }

  /** Makes the deletions written so far final (after a deletion written with other items, in one transaction). */
  async makeFinal(): Promise<void> {
    await this.#makeDeletionFinal?.();
  }

  /**
   * The request id and write time of every stored identity, never the ciphertext (in AWS the sweeper's role may read
   * no other attribute).
   */
  async listKeys(): Promise<Pick<IdentityItem, 'id' | 'createdAt'>[]> {
    return allItems<Pick<IdentityItem, 'id' | 'createdAt'>>((ExclusiveStartKey) =>
      this.#db.send(
        new ScanCommand({
          TableName: this.#table,
          Select: 'SPECIFIC_ATTRIBUTES',
          ProjectionExpression: 'id, createdAt',
          ConsistentRead: true,
          ExclusiveStartKey,
        }),
      ),
    );
  }
}

import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { addDays, epochSeconds } from '#shared/domain/dates';
import { type SubtreeReader, subtreesCompletedBy } from '#shared/evidence/merkle';
import type { Clock } from '#shared/ports/audit';
import type { PublicJwk, StoredReceipt, StoredTreeHead, TransparencyLogStore } from '#shared/ports/evidence';

const MAX_APPEND_ATTEMPTS = 200;

/**
 * The transparency log in one DynamoDB table keyed by `key`: `tree` (the size: how many leaves the tree holds, and the
 * size of the latest signed head), `node#<level>#<index>` (the hash of each perfect subtree, written once, when its
 * last leaf arrives; level 0 are the leaves, with the request they belong to), `receipt#<requestId>`, `head#<size>`
 * and `keys`. Nothing is ever deleted or changed once written, except the counters moving forward and a receipt's
 * fields being filled in, each by a conditional write; receipts expire (TTL) with the audit retention.
 *
 * Appending is safe under concurrent finishing requests without transactions: a leaf is claimed by a conditional put
 * of `node#0#<n>` at the first free index n (one writer wins each index), and anyone who finds a claimed leaf beyond
 * the size first writes the subtrees it completes, then moves the size on by a conditional update. So the size never
 * passes a leaf whose subtrees are missing, and a crashed appender's leaf is finished by the next one. Each request
 * gets one leaf: before claiming, it records the index it claims on its receipt (a compare-and-set on the index it
 * claimed before), and checks, after catching up with the size, whether that earlier claim landed.
 */
export class DynamoTransparencyLog implements TransparencyLogStore {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;
  // Subtree hashes never change once written: cached for the life of the process.
  readonly #nodes = new Map<string, Buffer>();

  readonly #retention: { clock: Clock; days: number } | undefined;

  /**
   * @param retention receipts (the only items that name a request's pseudonym) expire through TTL this long after they
   *   are stored, with the audit trail; the tree's hashes stay, so every proof can still be made.
   */
  constructor(db: DynamoDBDocumentClient, tableName: string, retention?: { clock: Clock; days: number }) {
    this.#db = db;
    this.#table = tableName;
    this.#retention = retention;
  }

  async #get<T>(key: string): Promise<T | undefined> {
    const { Item } = await this.#db.send(
      new GetCommand({ TableName: this.#table, Key: { key }, ConsistentRead: true }),
    );
    return Item as T | undefined;
  }

  /** A put that only creates; false when the item existed. */
  async #create(item: Record<string, unknown>): Promise<boolean> {
    try {
      await this.#db.send(
        new PutCommand({
          TableName: this.#table,
          Item: item,
          ConditionExpression: 'attribute_not_exists(#k)',
          ExpressionAttributeNames: { '#k': 'key' },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async #update(input: Omit<ConstructorParameters<typeof UpdateCommand>[0], 'TableName'>): Promise<boolean> {
    try {
      await this.#db.send(new UpdateCommand({ TableName: this.#table, ...input }));
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async getReceipt(requestId: string): Promise<StoredReceipt | undefined> {
    const item = await this.#get<StoredReceipt & { key: string }>(`receipt#${requestId}`);
    if (!item) return undefined;
    return {
      requestId: item.requestId,
      jws: item.jws,
      ...(item.leafIndex === undefined ? {} : { leafIndex: item.leafIndex }),
      ...(item.treeSize === undefined ? {} : { treeSize: item.treeSize }),
    };
  }

  async putReceipt(requestId: string, jws: string): Promise<StoredReceipt> {
    const expiresAt = this.#retention
      ? { expiresAt: epochSeconds(addDays(this.#retention.clock.now(), this.#retention.days)) }
      : {};
    await this.#create({ key: `receipt#${requestId}`, requestId, jws, ...expiresAt });
    return (await this.getReceipt(requestId)) as StoredReceipt;
  }

  async treeSize(): Promise<number> {
    return (await this.#get<{ size?: number }>('tree'))?.size ?? 0;
  }

  reader(): SubtreeReader {
    return async (level, index) => {
      const key = `node#${level}#${index}`;
      const cached = this.#nodes.get(key);
      if (cached) return cached;
      const item = await this.#get<{ hash: string }>(key);
      if (!item) throw new Error(`Transparency log: subtree ${level}/${index} is missing`);
      const hash = Buffer.from(item.hash, 'hex');
      this.#nodes.set(key, hash);
      return hash;
    };
  }

  /**
   * Moves the size past every claimed leaf at its end, writing the subtrees each completes first. Returns the first
   * index without a leaf, and the owners of the leaves it passed (to recognize one's own).
   */
  async #catchUp(): Promise<number> {
    for (;;) {
      const size = await this.treeSize();
      const leaf = await this.#get<{ hash: string }>(`node#0#${size}`);
      if (!leaf) return size;
      const completed = await subtreesCompletedBy(this.reader(), size, Buffer.from(leaf.hash, 'hex'));
      for (const node of completed.slice(1)) {
        // The same hash whoever writes it: a put that repeats another's changes nothing.
        await this.#db.send(
          new PutCommand({
            TableName: this.#table,
            Item: { key: `node#${node.level}#${node.index}`, hash: node.hash.toString('hex') },
          }),
        );
      }
      await this.#update({
        Key: { key: 'tree' },
        UpdateExpression: 'SET #s = :next',
        ConditionExpression: size === 0 ? 'attribute_not_exists(#s)' : '#s = :size',
        ExpressionAttributeNames: { '#s': 'size' },
        ExpressionAttributeValues: { ':next': size + 1, ...(size === 0 ? {} : { ':size': size }) },
      });
    }
  }

  async appendLeaf(requestId: string, leafHash: Buffer): Promise<number> {
    const receiptKey = `receipt#${requestId}`;
    for (let attempt = 1; attempt <= MAX_APPEND_ATTEMPTS; attempt++) {
      const receipt = await this.#get<{ leafIndex?: number; claiming?: number }>(receiptKey);
      if (!receipt) throw new Error(`Transparency log: no receipt stored for ${requestId}`);
      if (receipt.leafIndex !== undefined) return receipt.leafIndex;
      const free = await this.#catchUp();
      // Checked after catching up: a leaf claimed earlier (by a crashed or a concurrent attempt) that the size has
      // passed is in the tree by now.
      if (receipt.claiming !== undefined) {
        const claimed = await this.#get<{ requestId: string }>(`node#0#${receipt.claiming}`);
        if (claimed?.requestId === requestId) return this.#settle(requestId, receipt.claiming);
      }
      const moved = await this.#update({
        Key: { key: receiptKey },
        UpdateExpression: 'SET claiming = :free',
        ConditionExpression:
          receipt.claiming === undefined
            ? 'attribute_not_exists(leafIndex) AND attribute_not_exists(claiming)'
            : 'attribute_not_exists(leafIndex) AND claiming = :before',
        ExpressionAttributeValues: {
          ':free': free,
          ...(receipt.claiming === undefined ? {} : { ':before': receipt.claiming }),
        },
      });
      if (moved && (await this.#create({ key: `node#0#${free}`, hash: leafHash.toString('hex'), requestId }))) {
        return this.#settle(requestId, free);
      }
      // Another request took the index (or another attempt of this one moved its claim): back off a little, with
      // jitter, so requests ending together do not all retry in step and crowd the table.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * Math.min(attempt, 20)));
    }
    throw new Error('Transparency log: too much contention to append');
  }

  /** Makes the tree include the leaf and records its index on the receipt. */
  async #settle(requestId: string, leafIndex: number): Promise<number> {
    while ((await this.treeSize()) <= leafIndex) await this.#catchUp();
    await this.#update({
      Key: { key: `receipt#${requestId}` },
      UpdateExpression: 'SET leafIndex = :i',
      ConditionExpression: 'attribute_not_exists(leafIndex)',
      ExpressionAttributeValues: { ':i': leafIndex },
    });
    return leafIndex;
  }

  async bindReceipt(requestId: string, treeSize: number): Promise<StoredReceipt> {
    await this.#update({
      Key: { key: `receipt#${requestId}` },
      UpdateExpression: 'SET treeSize = :t',
      ConditionExpression: 'attribute_exists(leafIndex) AND attribute_not_exists(treeSize) AND leafIndex < :t',
      ExpressionAttributeValues: { ':t': treeSize },
    });
    return (await this.getReceipt(requestId)) as StoredReceipt;
  }

  async getTreeHead(treeSize: number): Promise<StoredTreeHead | undefined> {
    const item = await this.#get<StoredTreeHead>(`head#${treeSize}`);
    return item && { treeSize: item.treeSize, jws: item.jws, published: item.published === true };
  }

  async putTreeHead(treeSize: number, jws: string): Promise<StoredTreeHead> {
    await this.#create({ key: `head#${treeSize}`, treeSize, jws, published: false });
    await this.#update({
      Key: { key: 'tree' },
      UpdateExpression: 'SET latestHead = :t',
      ConditionExpression: 'attribute_not_exists(latestHead) OR latestHead < :t',
      ExpressionAttributeValues: { ':t': treeSize },
    });
    return (await this.getTreeHead(treeSize)) as StoredTreeHead;
  }

  async markPublished(treeSize: number): Promise<void> {
    await this.#update({
      Key: { key: `head#${treeSize}` },
      UpdateExpression: 'SET published = :yes',
      ConditionExpression: 'attribute_exists(jws)',
      ExpressionAttributeValues: { ':yes': true },
    });
  }

  async latestTreeHead(): Promise<StoredTreeHead | undefined> {
    const latest = (await this.#get<{ latestHead?: number }>('tree'))?.latestHead;
    return latest === undefined ? undefined : this.getTreeHead(latest);
  }

  async putKey(jwk: PublicJwk, at: string): Promise<void> {
    const keys = await this.#get<{ keys: Record<string, unknown> }>('keys');
    if (keys?.keys[jwk.kid]) return;
    if (!keys) await this.#create({ key: 'keys', keys: {} });
    await this.#update({
      Key: { key: 'keys' },
      UpdateExpression: 'SET #keys.#kid = :entry',
      ConditionExpression: 'attribute_not_exists(#keys.#kid)',
      ExpressionAttributeNames: { '#keys': 'keys', '#kid': jwk.kid },
      ExpressionAttributeValues: { ':entry': { jwk, addedAt: at } },
    });
  }

  async listKeys(): Promise<PublicJwk[]> {
    const keys = (await this.#get<{ keys: Record<string, { jwk: PublicJwk; addedAt: string }> }>('keys'))?.keys ?? {};
    return Object.values(keys)
      .sort((a, b) => b.addedAt.localeCompare(a.addedAt))
      .map((entry) => entry.jwk);
  }
}

import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { addDays, epochSeconds } from '#shared/domain/dates';
import { frontierOf, type SubtreeReader } from '#shared/evidence/merkle';
import type { Clock } from '#shared/ports/audit';
import type {
  LeafAppend,
  LogState,
  PublicJwk,
  StoredReceipt,
  StoredTreeHead,
  TransparencyLogStore,
  TreeState,
} from '#shared/ports/evidence';
import { chainOfItem, rememberChainOf } from './chain-head.ts';
import {
  BatchGetCommand,
  type BatchGetCommandInput,
  type BatchGetCommandOutput,
  type DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
  UpdateCommand,
} from './document-client.ts';
import { requestOfItem } from './requests/items.ts';

type Item = Record<string, unknown>;

/** Attributes of the `keys` item that list one key each (`key:<kid>`); earlier versions kept them in its `keys` map. */
const KEY_ATTRIBUTE = 'key:';

/**
 * The transparency log in one DynamoDB table keyed by `key`: `tree` (the size, the frontier, the size of the latest
 * signed head), `node#<level>#<index>` (the hash of each perfect subtree, written when its last leaf arrives; level 0
 * are the leaves, with the request they belong to), `receipt#<requestId>`, `head#<size>` and `keys`. Nothing is ever
 * deleted or changed once in the tree; receipts expire (TTL) with the audit retention.
 *
 * An append is one read and one write. The issuer reads the request's receipt, the tree (size and frontier: RFC 9162
 * §2.1's perfect subtrees, from which the new root, the new frontier and the new leaf's inclusion proof all follow)
 * and the keys in one BatchGetItem; then one TransactWriteItems writes the receipt (with its leaf index and the head it
 * is bound to), the leaf, the subtrees it completes, the signed head and the tree's new size and frontier, on the
 * condition that the tree still has the size it read. Of issuers racing for the same place one wins; the others read
 * again and append after it. The tree item is the transaction's last write: a write cut off between its items (the
 * local DynamoDB wrote them one by one before its writes went to LevelDB as one batch) leaves the tree where it was,
 * and what it wrote is written over or found.
 */
export class DynamoTransparencyLog implements TransparencyLogStore {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;
  // Subtree hashes never change once in the tree: cached for the life of the process.
  readonly #nodes = new Map<string, Buffer>();

  readonly #retention: { clock: Clock; days: number } | undefined;
  readonly #requests: string | undefined;

  /**
   * @param retention receipts (the only items that name a request's pseudonym) expire through TTL this long after they
   *   are stored, with the audit trail; the tree's hashes stay, so every proof can still be made.
   * @param requestsTable where `state` reads the request (and the seal its chain head holds) in the same BatchGetItem
   */
  constructor(
    db: DynamoDBDocumentClient,
    tableName: string,
    retention?: { clock: Clock; days: number },
    requestsTable?: string,
  ) {
    this.#db = db;
    this.#table = tableName;
    this.#retention = retention;
    this.#requests = requestsTable;
  }

  async #get<T>(key: string): Promise<T | undefined> {
    const { Item } = await this.#db.send(
      new GetCommand({ TableName: this.#table, Key: { key }, ConsistentRead: true }),
    );
    return Item as T | undefined;
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
    const item = await this.#get<Item>(`receipt#${requestId}`);
    return item && toReceipt(item);
  }

  async state(requestId: string): Promise<LogState> {
    const items = new Map<string, Item>();
    let request: Item | undefined;
    let pending: BatchGetCommandInput['RequestItems'] = {
      [this.#table]: { Keys: [`receipt#${requestId}`, 'tree', 'keys'].map((key) => ({ key })), ConsistentRead: true },
      ...(this.#requests ? { [this.#requests]: { Keys: [{ id: requestId }], ConsistentRead: true } } : {}),
    };
    while (pending && Object.keys(pending).length > 0) {
      const page: BatchGetCommandOutput = await this.#db.send(new BatchGetCommand({ RequestItems: pending }));
      for (const item of page.Responses?.[this.#table] ?? []) items.set(String(item.key), item);
      if (this.#requests) request ??= page.Responses?.[this.#requests]?.[0];
      pending = page.UnprocessedKeys;
    }
    rememberChainOf(request);
    const seal = request && chainOfItem(request)?.seal;
    const ofRequest = { ...(request ? { request: requestOfItem(request) } : {}), ...(seal ? { seal } : {}) };
    const treeItem = items.get('tree');
    const tree = await this.#treeOf(treeItem);
    const keyIds = Object.keys(listedKeys(items.get('keys')));
    const stored = items.get(`receipt#${requestId}`);
    if (!stored) return { tree, keyIds, ...ofRequest };
    const receipt = toReceipt(stored);
    if (receipt.leafIndex === undefined || receipt.leafIndex >= tree.size || !(await this.#ownsLeaf(receipt))) {
      return { tree, keyIds, unappended: receipt.jws, ...ofRequest };
    }
    if (receipt.treeSize !== undefined) {
      return { tree, keyIds, receipt: { ...receipt, leafIndex: receipt.leafIndex, treeSize: receipt.treeSize } };
    }
    // Appended by an earlier version that stopped before binding it to a head: any head past its leaf covers it.
    const latest = typeof treeItem?.latestHead === 'number' ? treeItem.latestHead : 0;
    if (latest <= receipt.leafIndex) throw new Error(`Transparency log: no signed head covers ${requestId}'s leaf yet`);
    await this.#update({
      Key: { key: `receipt#${requestId}` },
      UpdateExpression: 'SET treeSize = :t',
      ConditionExpression: 'attribute_not_exists(treeSize)',
      ExpressionAttributeValues: { ':t': latest },
    });
    return this.state(requestId);
  }

  /** Whether the leaf at the receipt's index is its own (not another's, written over a local write cut short). */
  async #ownsLeaf(receipt: StoredReceipt): Promise<boolean> {
    const leaf = await this.#get<{ requestId?: string }>(`node#0#${receipt.leafIndex}`);
    return leaf?.requestId === receipt.requestId;
  }

  async tree(): Promise<TreeState> {
    return this.#treeOf(await this.#get<Item>('tree'));
  }

  /** The tree an item holds; one written before the frontier was kept there gets it from its subtrees (once). */
  async #treeOf(item: Item | undefined): Promise<TreeState> {
    const size = typeof item?.size === 'number' ? item.size : 0;
    const frontier = Array.isArray(item?.frontier)
      ? (item.frontier as string[]).map((hash) => Buffer.from(hash, 'hex'))
      : await frontierOf(this.reader(), size);
    return { size, frontier };
  }

  async append(entry: LeafAppend): Promise<boolean> {
    const { size } = entry.tree;
    const next = size + 1;
    const expiresAt = this.#retention
      ? { expiresAt: epochSeconds(addDays(this.#retention.clock.now(), this.#retention.days)) }
      : {};
    const put = (Item: Item) => ({ Put: { TableName: this.#table, Item } });
    const [leaf, ...subtrees] = entry.completed;
    if (leaf?.level !== 0 || leaf.index !== size) throw new Error('Transparency log: the leaf must come first');
    try {
      await this.#db.send(
        new TransactWriteCommand({
          TransactItems: [
            ...(entry.key
              ? [
                  {
                    // Listed in the write of the first thing it signs: a JWKS read after any receipt verifies it.
                    Update: {
                      TableName: this.#table,
                      Key: { key: 'keys' },
                      UpdateExpression: 'SET #kid = if_not_exists(#kid, :entry)',
                      ExpressionAttributeNames: { '#kid': `${KEY_ATTRIBUTE}${entry.key.jwk.kid}` },
                      ExpressionAttributeValues: { ':entry': { jwk: entry.key.jwk, addedAt: entry.key.at } },
                    },
                  },
                ]
              : []),
            {
              Put: {
                TableName: this.#table,
                Item: {
                  key: `receipt#${entry.requestId}`,
                  requestId: entry.requestId,
                  jws: entry.receipt,
                  leafIndex: size,
                  treeSize: next,
                  ...expiresAt,
                },
                // One receipt per request: a new one only where none is stored, a stored one appended again as signed.
                ConditionExpression: 'attribute_not_exists(#k) OR jws = :jws',
                ExpressionAttributeNames: { '#k': 'key' },
                ExpressionAttributeValues: { ':jws': entry.receipt },
              },
            },
            // The leaf, its subtrees and the head are written over anything a cut-off local write left at their keys:
            // nothing refers to them until the tree's size passes them, which only this write's last item does.
            put({ key: `node#0#${size}`, hash: leaf.hash.toString('hex'), requestId: entry.requestId }),
            ...subtrees.map((node) =>
              put({ key: `node#${node.level}#${node.index}`, hash: node.hash.toString('hex') }),
            ),
            put({ key: `head#${next}`, treeSize: next, jws: entry.treeHead }),
            {
              Update: {
                TableName: this.#table,
                Key: { key: 'tree' },
                UpdateExpression: 'SET #s = :next, frontier = :frontier, latestHead = :next',
                ConditionExpression: size === 0 ? 'attribute_not_exists(#s)' : '#s = :size',
                ExpressionAttributeNames: { '#s': 'size' },
                ExpressionAttributeValues: {
                  ':next': next,
                  ':frontier': entry.frontier.map((hash) => hash.toString('hex')),
                  ...(size === 0 ? {} : { ':size': size }),
                },
              },
            },
          ],
        }),
      );
    } catch (error) {
      if (error instanceof TransactionCanceledException) return false;
      throw error;
    }
    for (const node of entry.completed) this.#nodes.set(`node#${node.level}#${node.index}`, node.hash);
    return true;
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

  async getTreeHead(treeSize: number): Promise<StoredTreeHead | undefined> {
    const item = await this.#get<StoredTreeHead>(`head#${treeSize}`);
    return item && { treeSize: item.treeSize, jws: item.jws };
  }

  async latestTreeHead(): Promise<StoredTreeHead | undefined> {
    const latest = (await this.#get<{ latestHead?: number }>('tree'))?.latestHead;
    return latest === undefined ? undefined : this.getTreeHead(latest);
  }

  async listKeys(): Promise<PublicJwk[]> {
    return Object.values(listedKeys(await this.#get<Item>('keys')))
      .sort((a, b) => b.addedAt.localeCompare(a.addedAt))
      .map((entry) => entry.jwk);
  }
}

/** The keys the `keys` item lists, by kid: one attribute each, and those an earlier version kept in its `keys` map. */
function listedKeys(item: Item | undefined): Record<string, { jwk: PublicJwk; addedAt: string }> {
  const listed = { ...((item?.keys as Record<string, { jwk: PublicJwk; addedAt: string }> | undefined) ?? {}) };
  for (const [name, value] of Object.entries(item ?? {})) {
    if (name.startsWith(KEY_ATTRIBUTE)) listed[name.slice(KEY_ATTRIBUTE.length)] = value as never;
  }
  return listed;
}

function toReceipt(item: Item): StoredReceipt {
  return {
    requestId: String(item.requestId),
    jws: String(item.jws),
    ...(typeof item.leafIndex === 'number' ? { leafIndex: item.leafIndex } : {}),
    ...(typeof item.treeSize === 'number' ? { treeSize: item.treeSize } : {}),
  };
}

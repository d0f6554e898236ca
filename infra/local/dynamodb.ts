import { mkdir } from 'node:fs/promises';
import { Agent, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type { MessagePort } from 'node:worker_threads';
import {
  type AttributeValue,
  CreateTableCommand,
  type CreateTableCommandInput,
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  PutItemCommand,
  ResourceInUseException,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import {
  AUDIT_EVENTS_TABLE,
  IDENTITIES_TABLE,
  projectionOf,
  RATE_BUDGETS_TABLE,
  REQUESTS_TABLE,
  TRANSPARENCY_LOG_TABLE,
} from '#shared/adapters/dynamodb/tables';
import { DirectHttpHandler } from './dynalite-direct.ts';
import type { ReadableLevel } from './dynalite-reads.ts';
import type { DynaliteTables } from './dynalite-transactions.ts';
import { serveCalls } from './threads/rpc.ts';

const require = createRequire(import.meta.url);

/**
 * dynalite and what this service adds to it, loaded when it starts: the workflow thread of `npm start` imports this
 * module only to reach dynalite over HTTP, and loading dynalite there cost it about 0.1 s of CPU at every start.
 */
async function loadDynalite() {
  const [precedence, reads, transactions, expressions] = await Promise.all([
    import('./dynalite-precedence.ts'),
    import('./dynalite-reads.ts'),
    import('./dynalite-transactions.ts'),
    import('./dynalite-expressions.ts'),
  ]);
  return {
    dynalite: require('dynalite') as (options: Record<string, unknown>) => Server,
    // dynalite's store factory, the module its server calls: wrapped for one call to get at the store's LevelDB.
    dynaliteStore: require('dynalite/db/index.js') as { create: (options: Record<string, unknown>) => DynaliteStore },
    ...precedence,
    ...reads,
    ...transactions,
    ...expressions,
  };
}

/** What dynalite's store holds: the LevelDB (classic-level) all its tables live in, as `item-<table>~<key>` entries. */
interface DynaliteStore {
  db: {
    compactRange?: (start: string, end: string) => Promise<void>;
    put?: (key: string, value: unknown) => Promise<void>;
    keys?: (options: unknown) => LevelIterator;
    values?: (options: unknown) => LevelIterator;
  };
}

interface LevelIterator {
  next(): Promise<unknown>;
  close(): Promise<void>;
}

/**
 * dynalite reads every Query and Scan through a LevelDB iterator that it never closes once exhausted, and each open
 * iterator holds a snapshot: LevelDB then keeps every value deleted after it, in every compaction, until the database
 * closes. Closing each iterator when it reaches its end lets a compaction drop deleted values.
 */
function closeIteratorsAtEnd(db: DynaliteStore['db']): void {
  for (const method of ['keys', 'values'] as const) {
    const open = db[method]?.bind(db);
    if (!open) continue;
    db[method] = (options) => {
      const iterator = open(options);
      const next = iterator.next.bind(iterator);
      iterator.next = async () => {
        const value = await next();
        if (value === undefined) await iterator.close();
        return value;
      };
      return iterator;
    };
  }
}

/**
 * dynalite, a DynamoDB-compatible server, on loopback. With `path` its data lives on disk (LevelDB), so the audit trail
 * survives a restart; without, in memory (tests). It has two entrances to the same tables: `endpoint`, and
 * `backgroundEndpoint` for callers that give way to it (the workflows; see dynalite-precedence.ts).
 */
export async function startDynalite(path?: string): Promise<{
  endpoint: string;
  backgroundEndpoint: string;
  store: DynaliteStore | undefined;
  /** The server whose handlers answer `endpoint`: a {@link DirectHttpHandler} calls them on this thread. */
  server: Server;
  stop: () => Promise<void>;
}> {
  if (path) await mkdir(path, { recursive: true });
  const {
    dynalite,
    dynaliteStore,
    readOnThisThread,
    addTransactWriteItems,
    addBackgroundEntrance,
    cacheConditionParses,
  } = await loadDynalite();
  cacheConditionParses();
  const options = { createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...(path ? { path } : {}) };
  const create = dynaliteStore.create;
  let store: DynaliteStore | undefined;
  dynaliteStore.create = (storeOptions) => {
    store = create(storeOptions);
    return store;
  };
  let server: Server;
  try {
    server = dynalite(options);
  } finally {
    dynaliteStore.create = create;
  }
  if (store) closeIteratorsAtEnd(store.db);
  if (store) readOnThisThread(store.db as unknown as ReadableLevel);
  if (store) addTransactWriteItems(server, store as unknown as DynaliteTables);
  // Deleted values must not survive on disk (see compact()): fail at start rather than keep them if dynalite changed.
  if (path && typeof store?.db.compactRange !== 'function') {
    throw new Error('dynalite no longer exposes its LevelDB: deleted identities could not be purged from disk');
  }
  const background = addBackgroundEntrance(server);
  const listening = (entrance: Server) =>
    new Promise<string>((resolve, reject) => {
      entrance.once('error', reject);
      entrance.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(entrance.address() as AddressInfo).port}`));
    });
  const endpoint = await listening(server);
  const backgroundEndpoint = await listening(background);
  return {
    endpoint,
    backgroundEndpoint,
    store,
    server,
    stop: async () => {
      background.closeAllConnections();
      await new Promise<void>((resolve) => background.close(() => resolve()));
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      // dynalite keeps its LevelDB open on the server object; close it so the next start can take the lock.
      const db = (server as unknown as { db?: { close?: (cb: () => void) => void } }).db;
      if (db?.close) await new Promise<void>((resolve) => db.close?.(() => resolve()));
    },
  };
}

export interface LocalDynamo {
  endpoint: string;
  /** The same tables, for the workflows: their calls give way to those made through `endpoint`. */
  backgroundEndpoint: string;
  /** A client for it (dynalite accepts any credentials). */
  client: DynamoDBClient;
  /** Creates the tables as the stack defines them, if they do not exist yet. */
  ensureTables(names: TableNames): Promise<void>;
  /**
   * Makes the deletions made in a table so far final on disk (see `compactor`): no deleted value remains in any file.
   * Concurrent calls share the work; each returns once a purge that started after the call has finished.
   */
  compact(table: string): Promise<void>;
  stop(): Promise<void>;
}

export interface TableNames {
  requests?: string;
  auditEvents?: string;
  identities?: string;
  rateBudgets?: string;
  transparencyLog?: string;
}

/**
 * dynalite plus a client for it, on the calling thread: what the local runtime and the store tests run on.
 * @param options.direct the client calls dynalite's handlers on this thread, with no HTTP between (`npm start`'s API:
 *   see dynalite-direct.ts); by default it calls `endpoint` over loopback HTTP, as a Lambda function reaches DynamoDB
 * @param options.serveOn ports on which the runtime's other threads call `compact` (the workflow thread's purges)
 */
export async function startLocalDynamo(
  path?: string,
  options: { direct?: boolean; serveOn?: MessagePort[] } = {},
): Promise<LocalDynamo> {
  const server = await startDynalite(path);
  const compact = compactor(server.store);
  for (const port of options.serveOn ?? []) {
    serveCalls(port, { compact } satisfies DynamoPurgeMethods, () => undefined);
  }
  const client = localDynamoClient(server.endpoint, options.direct ? { server: server.server } : {});
  return {
    endpoint: server.endpoint,
    backgroundEndpoint: server.backgroundEndpoint,
    client,
    ensureTables: (names) => ensureTables(client, names),
    compact,
    stop: async () => {
      client.destroy();
      await server.stop();
    },
  };
}

/**
 * dynalite checks that a request carries a well-formed SigV4 authorization, not its signature (it accepts any
 * credentials). Locally every call carries this fixed one instead of a computed signature: SigV4 was half of the SDK's
 * CPU time per call (0.69 against 0.34 ms a PutItem, best of 12 runs here), paid on the intake's thread 4 times a request.
 */
const LOCAL_AUTHORIZATION = {
  authorization: `AWS4-HMAC-SHA256 Credential=local/20000101/local/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`,
  'x-amz-date': '20000101T000000Z',
};

/** Signs nothing: gives every request {@link LOCAL_AUTHORIZATION}. */
export const localSigner = {
  sign: async <R extends { headers: Record<string, string> }>(request: R): Promise<R> => {
    Object.assign(request.headers, LOCAL_AUTHORIZATION);
    return request;
  },
};

/**
 * A DynamoDB client for the local endpoint, its requests not signed (see {@link LOCAL_AUTHORIZATION}).
 * @param options.maxSockets connections it keeps to dynalite at most (default: the SDK's 50); more calls wait in the
 *   client, not in dynalite's queue, where they would wait in front of other clients' calls
 * @param options.server answer every call with this dynalite server's handlers on this thread (dynalite-direct.ts)
 *   instead of over HTTP; `endpoint` still names the service in each request, as DynamoDB's would
 */
export function localDynamoClient(
  endpoint: string,
  options: { maxSockets?: number; server?: Server } = {},
): DynamoDBClient {
  const requestHandler = options.server
    ? new DirectHttpHandler(options.server)
    : options.maxSockets
      ? { httpAgent: new Agent({ keepAlive: true, maxSockets: options.maxSockets }) }
      : undefined;
  return new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    signer: localSigner,
    ...(requestHandler ? { requestHandler: requestHandler as never } : {}),
  });
}

/** What the thread holding dynalite answers the runtime's other threads (the workflow thread's purges). */
export type DynamoPurgeMethods = {
  compact(table: string): Promise<void>;
};

/**
 * Purges deleted values of a table from disk. LevelDB keeps a deleted value, and the deletion marker beside it, in its
 * write-ahead log and table files until a compaction merges the two; CompactRange(begin, end) flushes the log into a
 * table file (the old log is deleted) and merges each level's files overlapping the range into the next level.
 * Alone it can leave both in one file: a flush may place its file on the deepest level holding that range, which
 * CompactRange only ever rewrites together with a file from the level above. So the range is bracketed by two keys
 * just outside dynalite's item keys (`item-<table>}` sorts before `item-<table>~…`, `item-<table>\x7f` after it) and
 * compacted twice: the first pass flushes; the brackets are then written, and the second pass flushes them onto a level
 * above every file of the range and merges them down through all of them, dropping every value shadowed by a newer
 * write or a deletion. One purge per table runs at a time; calls that arrive meanwhile share the next one.
 */
export function compactor(store: DynaliteStore | undefined): (table: string) => Promise<void> {
  const purge = async (table: string) => {
    const db = store?.db;
    // In memory there is nothing on disk to purge.
    if (!db?.compactRange || !db.put) return;
    const below = `item-${table}}`;
    const above = `item-${table}\x7f`;
    await db.compactRange(below, above);
    await db.put(below, true);
    await db.put(above, true);
    await db.compactRange(below, above);
  };
  const queues = new Map<string, { running?: Promise<void>; next?: Promise<void> }>();
  return (table) => {
    const queue = queues.get(table) ?? {};
    queues.set(table, queue);
    const start = () => {
      queue.running = purge(table).finally(() => {
        queue.running = undefined;
      });
      return queue.running;
    };
    if (!queue.running) return start();
    // A purge already running may have started before this call's deletion: wait for the next one.
    queue.next ??= queue.running
      .catch(() => undefined)
      .then(() => {
        queue.next = undefined;
        return start();
      });
    return queue.next;
  };
}

/** Creates the tables as the stack defines them (same keys and indexes), if they do not exist yet. */
export async function ensureTables(client: DynamoDBClient, names: TableNames) {
  const definitions: CreateTableCommandInput[] = [
    requestsTableDefinition(names.requests ?? ''),
    {
      TableName: names.auditEvents ?? '',
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: AUDIT_EVENTS_TABLE.partitionKey, AttributeType: 'S' },
        { AttributeName: AUDIT_EVENTS_TABLE.sortKey, AttributeType: 'N' },
      ],
      KeySchema: [
        { AttributeName: AUDIT_EVENTS_TABLE.partitionKey, KeyType: 'HASH' },
        { AttributeName: AUDIT_EVENTS_TABLE.sortKey, KeyType: 'RANGE' },
      ],
    },
  ];
  if (names.transparencyLog) {
    definitions.push({
      TableName: names.transparencyLog,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: TRANSPARENCY_LOG_TABLE.partitionKey, AttributeType: 'S' }],
      KeySchema: [{ AttributeName: TRANSPARENCY_LOG_TABLE.partitionKey, KeyType: 'HASH' }],
    });
  }
  if (names.identities) {
    definitions.push({
      TableName: names.identities,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: IDENTITIES_TABLE.partitionKey, AttributeType: 'S' }],
      KeySchema: [{ AttributeName: IDENTITIES_TABLE.partitionKey, KeyType: 'HASH' }],
    });
  }
  if (names.rateBudgets) {
    definitions.push({
      TableName: names.rateBudgets,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: RATE_BUDGETS_TABLE.partitionKey, AttributeType: 'S' }],
      KeySchema: [{ AttributeName: RATE_BUDGETS_TABLE.partitionKey, KeyType: 'HASH' }],
    });
  }
  for (const definition of definitions) {
    if (!definition.TableName) continue;
    try {
      await client.send(new CreateTableCommand(definition));
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
    }
  }
  if (names.requests) await addMissingIndexes(client, names.requests);
  for (const definition of definitions) if (definition.TableName) await untilActive(client, definition.TableName);
}

/**
 * Waits until a table and its indexes are ACTIVE, as DynamoDB's `tableExists` waiter does but polling every few ms:
 * CreateTable answers while the table is CREATING (dynalite flips it with a write of its own, after the answer), and a
 * write to it before then is refused with ResourceNotFoundException.
 * @throws Error when the table is not ACTIVE within `withinMs`
 */
async function untilActive(client: DynamoDBClient, tableName: string, withinMs = 10_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const indexes = Table?.GlobalSecondaryIndexes ?? [];
    if (Table?.TableStatus === 'ACTIVE' && indexes.every((index) => index.IndexStatus === 'ACTIVE')) return;
    if (Date.now() > deadline) {
      throw new Error(`Local table ${tableName} is still ${Table?.TableStatus} after ${withinMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

function requestsTableDefinition(tableName: string): CreateTableCommandInput {
  const { indexes } = REQUESTS_TABLE;
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: REQUESTS_TABLE.partitionKey, AttributeType: 'S' },
      { AttributeName: indexes.byEmailPseudonym.partitionKey, AttributeType: 'S' },
      { AttributeName: indexes.byExternalIdPseudonym.partitionKey, AttributeType: 'S' },
      { AttributeName: indexes.byStatus.partitionKey, AttributeType: 'S' },
      { AttributeName: indexes.byEmailPseudonym.sortKey, AttributeType: 'S' },
    ],
    KeySchema: [{ AttributeName: REQUESTS_TABLE.partitionKey, KeyType: 'HASH' }],
    GlobalSecondaryIndexes: Object.values(indexes).map((index) => ({
      IndexName: index.name,
      KeySchema: [
        { AttributeName: index.partitionKey, KeyType: 'HASH' },
        { AttributeName: index.sortKey, KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...projectionOf(index.name)] },
    })),
  };
}

/**
 * A requests table written by an earlier version may lack an index added since (the status index). DynamoDB adds one
 * to a live table (the stack does, through CloudFormation); dynalite cannot, so the table is rebuilt: its items are
 * read, the table is created anew with every index, and the items are written back. Requests hold no identity (the
 * identities table does), and all happens before the service accepts anything.
 */
async function addMissingIndexes(client: DynamoDBClient, tableName: string): Promise<void> {
  const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
  const present = new Set((Table?.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName));
  if (Object.values(REQUESTS_TABLE.indexes).every((index) => present.has(index.name))) return;
  const items: Record<string, AttributeValue>[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: startKey }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  await client.send(new DeleteTableCommand({ TableName: tableName }));
  await client.send(new CreateTableCommand(requestsTableDefinition(tableName)));
  await untilActive(client, tableName);
  for (const item of items) await client.send(new PutItemCommand({ TableName: tableName, Item: item }));
}

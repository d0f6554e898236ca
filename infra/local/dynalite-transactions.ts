import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

type Callback<T> = (error: DynaliteError | null | undefined, value?: T) => void;
interface DynaliteError extends Error {
  statusCode?: number;
  body?: Record<string, unknown>;
}
type Item = Record<string, unknown>;
interface ItemDb {
  get(key: string, cb: Callback<Item>): void;
  put(key: string, value: unknown, cb: Callback<void>): void;
  del(key: string, cb: Callback<void>): void;
  /** dynalite's lock of one item (the `lock` package): `exec` runs once it is held, `release(done)` wraps `done`. */
  lock(key: string, exec: (release: Release) => void): void;
}
type Release = (done?: (...args: unknown[]) => void) => (...args: unknown[]) => void;
/** dynalite's store (`dynalite/db/index.js` create()): its tables and items. */
export interface DynaliteTables {
  /** The LevelDB every table, item and index entry lives in (sub-databases are key prefixes in it). */
  db: LevelDb;
  /** `checkStatus` (implied when the callback comes second) refuses a table being created or deleted. */
  getTable(name: string, cb: Callback<Record<string, unknown>>): void;
  getTable(name: string, checkStatus: boolean, cb: Callback<Record<string, unknown>>): void;
  getItemDb(name: string): ItemDb;
  getIndexDb(indexType: string, tableName: string, indexName: string): ItemDb;
}
/** dynalite's callback form of the LevelDB (its `wrapWithCallbacks`). */
interface LevelDb {
  put(key: string, value: unknown, cb: Callback<void>): void;
  batch(operations: LevelWrite[], cb: Callback<void>): void;
}
type LevelWrite = { type: 'put'; key: string; value: unknown } | { type: 'del'; key: string };
type Action = (store: DynaliteTables, data: Item, cb: Callback<Item>) => void;
interface ActionValidation {
  types: Record<string, unknown>;
  custom?: (data: Item, store: DynaliteTables) => string | undefined;
}

const validations = require('dynalite/validations/index.js') as {
  checkTypes(data: Item, types: Record<string, unknown>): Item;
  checkValidations(data: Item, types: Record<string, unknown>, custom: unknown, store: DynaliteTables): void;
};
const db = require('dynalite/db/index.js') as {
  createKey(item: Item, table: Record<string, unknown>): string;
  validateItem(item: Item, table: Record<string, unknown>): DynaliteError | null | undefined;
  validateKey(key: Item, table: Record<string, unknown>): DynaliteError | null | undefined;
  checkConditional(data: Item, existing: Item | undefined): DynaliteError | null | undefined;
};
// Loaded once here, not per call: a `require` inside the request path resolved its file again each time (a stat of
// each candidate path), 8 % of dynalite's CPU for an intake's transaction.
const putItem = {
  validation: require('dynalite/validations/putItem.js') as ActionValidation,
  action: require('dynalite/actions/putItem.js') as Action,
};
const updateItem = {
  validation: require('dynalite/validations/updateItem.js') as ActionValidation,
  action: require('dynalite/actions/updateItem.js') as Action,
};
const deleteItem = {
  validation: require('dynalite/validations/deleteItem.js') as ActionValidation,
  action: require('dynalite/actions/deleteItem.js') as Action,
};
const operations = {
  Put: putItem,
  Update: updateItem,
  Delete: deleteItem,
  // A condition check is parsed like a delete (Key + ConditionExpression) and writes nothing.
  ConditionCheck: { validation: deleteItem.validation, action: undefined },
} as const;
type Operation = keyof typeof operations;

const TARGET = 'DynamoDB_20120810.TransactWriteItems';
/** The single-item writes, run as a transaction of one is (see {@link writeOne}). */
const SINGLE_WRITES: Record<string, Exclude<Operation, 'ConditionCheck'>> = {
  'DynamoDB_20120810.PutItem': 'Put',
  'DynamoDB_20120810.UpdateItem': 'Update',
  'DynamoDB_20120810.DeleteItem': 'Delete',
};

/**
 * dynalite has no TransactWriteItems, which the audit trail needs (an event and its request's chain head in one
 * write). This adds it to a dynalite server, with DynamoDB's semantics for what the service uses: every condition is
 * checked against the stored items (with dynalite's own parser and evaluator), and only if all hold are the writes
 * applied (with dynalite's own actions); otherwise nothing is written and the answer is a
 * `TransactionCanceledException` whose `CancellationReasons` say, item by item, which condition failed (with the
 * item as stored, for an item that asked for it with `ReturnValuesOnConditionCheckFailure: ALL_OLD`).
 *
 * Isolation, per item: a transaction takes the item locks dynalite's own PutItem, UpdateItem and DeleteItem take, for
 * every item it names, in one global order (two transactions over common items cannot deadlock; a single-item write
 * holds one lock and waits for none), then checks every condition, writes, and releases. No writer of those items
 * slips between its checks and its writes, and transactions over other items, and every other request, go on
 * meanwhile. (A gate that ran each transaction alone, after draining every request in flight, made dynalite
 * sequential: at 100 intakes a second beside a draining backlog, the intake's p99 was 1.1-1.9 s against 0.13 s.)
 *
 * The writes (each item and its index entries, computed by dynalite's own actions) go to the LevelDB in one batch: a
 * reader sees all of them or none, and a process killed during the transaction keeps all of them or none, as with
 * DynamoDB. With the reads on dynalite's own thread (dynalite-reads.ts), that batch is the transaction's one trip
 * through the libuv thread pool, which every thread of the process shares; dynalite's actions writing one by one made
 * 17 such trips for an intake, each waiting behind the backlog's calls (25-85 ms at the 90th-99th percentile).
 */
export function addTransactWriteItems(server: Server, store: DynaliteTables): void {
  const handlers = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.headers['x-amz-target'] === TARGET) {
      void transact(store, req, res);
      return;
    }
    const single = SINGLE_WRITES[String(req.headers['x-amz-target'])];
    if (single) {
      void writeOne(store, single, req, res);
      return;
    }
    const before = req.listeners('error');
    for (const handler of handlers) handler.call(server, req, res);
    // dynalite rethrows a request's error (`req.on('error', (err) => { throw err })`): a caller gone before its body
    // arrived ('aborted', ECONNRESET) ended the process, and with it the API's thread. Its call is dropped instead.
    for (const listener of req.listeners('error') as Array<(error: Error) => void>) {
      if (!before.includes(listener)) req.off('error', listener);
    }
    req.on('error', () => undefined);
  });
}

/**
 * The whole body of a call, or undefined when its caller went away before sending all of it: nobody is left to
 * answer, and the call is dropped (before, the read's 'aborted' error was an unhandled rejection, which ended the
 * process).
 */
async function bodyOf(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of req) chunks.push(chunk as Buffer);
  } catch {
    return undefined;
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function transact(store: DynaliteTables, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await bodyOf(req);
  if (body === undefined) return;
  const held: Array<() => void> = [];
  try {
    const input = JSON.parse(body) as { TransactItems?: Item[] };
    const items = (input.TransactItems ?? []).map((item) => parse(item, store));
    if (items.length === 0 || items.length > 100) {
      throw validationError('Member must have length between 1 and 100 (TransactItems)');
    }
    const targets = new Set<string>();
    const resolved = [];
    const tables = new Map<string, Record<string, unknown>>();
    for (const item of items) {
      const table = await tableOf(store, String(item.data.TableName), tables);
      const key = keyOf(item.operation, item.data, table);
      const target = `${String(item.data.TableName)}\u0000${key}`;
      if (targets.has(target)) {
        throw validationError('Transaction request cannot include multiple operations on one item');
      }
      targets.add(target);
      resolved.push({ ...item, key, target, itemDb: store.getItemDb(String(item.data.TableName)) });
    }
    for (const item of [...resolved].sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0))) {
      held.push(await lockItem(item.itemDb, item.key));
    }
    const prepared = await Promise.all(
      resolved.map(async (item) => {
        const existing = await call<Item>((cb) => item.itemDb.get(item.key, cb)).catch((error: DynaliteError) => {
          if (error.name === 'NotFoundError') return undefined;
          throw error;
        });
        return { ...item, existing, failed: db.checkConditional(item.data, existing) != null };
      }),
    );
    if (prepared.some((item) => item.failed)) {
      const codes = prepared.map((item) => (item.failed ? 'ConditionalCheckFailed' : 'None'));
      return send(res, 400, {
        __type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException',
        message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes.join(', ')}]`,
        CancellationReasons: prepared.map((item) =>
          item.failed
            ? {
                Code: 'ConditionalCheckFailed',
                Message: 'The conditional request failed',
                ...(item.returnOld && item.existing ? { Item: item.existing } : {}),
              }
            : { Code: 'None' },
        ),
      });
    }
    // Nothing can have changed since the checks (every item is locked), so each write's own condition holds again.
    // dynalite's own actions compute each write (the item, its index entries) on a view of the store that takes this
    // transaction's locks as held, answers the table definitions and items this transaction has read (they cannot have
    // changed either) and collects the writes; one LevelDB batch then writes them all.
    const writes: LevelWrite[] = [];
    const read = new Map(prepared.map((item) => [item.target, item.existing]));
    const collecting = collectingWrites(store, writes, { tables, items: read });
    for (const item of prepared) {
      const action = operations[item.operation].action;
      if (!action) continue;
      await call<Item>((cb) => action(collecting, item.data, cb));
    }
    if (writes.length) await call<void>((cb) => store.db.batch(writes, cb));
    send(res, 200, {});
  } catch (error) {
    const failure = error as DynaliteError;
    if (failure.statusCode && failure.body) return send(res, failure.statusCode, failure.body);
    send(res, 500, { __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: String(error) });
  } finally {
    for (const release of held) release();
  }
}

/**
 * A PutItem, UpdateItem or DeleteItem: dynalite's own action (its validation, condition, result), under the item's
 * lock, with its writes collected and applied in one LevelDB batch as a transaction's are. dynalite's action writes
 * the index entries first and the item after, one by one: a process killed between them left, say, the status index
 * saying `completed` of an item still `closing`, which the sweeper (it lists unfinished requests through that index)
 * then never saw again. One batch keeps all of a write or none, as DynamoDB does.
 */
async function writeOne(
  store: DynaliteTables,
  operation: Exclude<Operation, 'ConditionCheck'>,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const body = await bodyOf(req);
  if (body === undefined) return;
  let release: (() => void) | undefined;
  try {
    const raw = JSON.parse(body || '{}') as Item;
    const { data } = parse({ [operation]: raw }, store);
    const tables = new Map<string, Record<string, unknown>>();
    const table = await tableOf(store, String(data.TableName), tables);
    const itemDb = store.getItemDb(String(data.TableName));
    const key = keyOf(operation, data, table);
    release = await lockItem(itemDb, key);
    const writes: LevelWrite[] = [];
    const { action } = operations[operation];
    const result = await call<Item>((cb) => action(collectingWrites(store, writes, { tables }), data, cb));
    if (writes.length) await call<void>((cb) => store.db.batch(writes, cb));
    send(res, 200, result ?? {});
  } catch (error) {
    const failure = error as DynaliteError;
    if (failure.statusCode && failure.body) return send(res, failure.statusCode, failure.body);
    send(res, 500, { __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: String(error) });
  } finally {
    release?.();
  }
}

/**
 * The store key of the item a write names, its key attributes checked first as dynalite's own actions check them (a
 * Put's item; the key of an Update, Delete or ConditionCheck): `createKey` reads them unchecked, and an item without
 * them made it throw a TypeError, answered 500 InternalServerError (which the SDK retries) where DynamoDB answers 400
 * ValidationException.
 * @throws DynaliteError the ValidationException dynalite's action answers
 */
function keyOf(operation: Operation, data: Item, table: Record<string, unknown>): string {
  const named = (operation === 'Put' ? data.Item : data.Key) as Item | undefined;
  const invalid = operation === 'Put' ? db.validateItem(named ?? {}, table) : db.validateKey(named ?? {}, table);
  if (invalid) throw invalid;
  return db.createKey(named as Item, table);
}

/** Takes dynalite's lock of one item; resolves with its release. */
function lockItem(itemDb: ItemDb, key: string): Promise<() => void> {
  return new Promise((resolve) => itemDb.lock(key, (release) => resolve(release())));
}

/** A table's definition, read once per call: every item and action of one call sees the same. */
async function tableOf(
  store: DynaliteTables,
  name: string,
  tables: Map<string, Record<string, unknown>>,
): Promise<Record<string, unknown>> {
  let table = tables.get(name);
  if (!table) {
    table = await call<Record<string, unknown>>((cb) => store.getTable(name, cb));
    tables.set(name, table);
  }
  return table;
}

/**
 * The store as a call holding its items' locks sees it: taking one of those locks again goes straight through, a
 * table definition the call has read (`known.tables`) or an item it has read under its lock (`known.items`, by
 * table and key) is answered as read, and every put and delete of an item or index entry is added to `writes` (under
 * its key in the LevelDB) instead of being written. (dynalite's store and sub-databases are plain objects of closures,
 * so a copy with members replaced is enough.)
 */
function collectingWrites(
  store: DynaliteTables,
  writes: LevelWrite[],
  known: { tables: Map<string, Record<string, unknown>>; items?: Map<string, Item | undefined> },
): DynaliteTables {
  const passThrough: ItemDb['lock'] = (_key, exec) =>
    exec(
      (done) =>
        (...args) =>
          done?.(...args),
    );
  const collecting = (sub: ItemDb, tableName?: string): ItemDb => ({
    ...sub,
    lock: passThrough,
    get: (key, cb) => {
      const target = `${tableName}\u0000${key}`;
      // As dynalite's own reads answer (dynalite-reads.ts): on the next tick, `undefined` when absent.
      if (tableName !== undefined && known.items?.has(target)) process.nextTick(cb, null, known.items.get(target));
      else sub.get(key, cb);
    },
    put: (key, value, cb) => {
      writes.push({ type: 'put', key: keyInLevelDb(store.db, sub, key), value });
      process.nextTick(cb, null);
    },
    del: (key, cb) => {
      writes.push({ type: 'del', key: keyInLevelDb(store.db, sub, key) });
      process.nextTick(cb, null);
    },
  });
  return {
    ...store,
    getTable: ((
      name: string,
      checkStatus: boolean | Callback<Record<string, unknown>>,
      cb?: Callback<Record<string, unknown>>,
    ) => {
      const done = (typeof checkStatus === 'function' ? checkStatus : cb) as Callback<Record<string, unknown>>;
      const table = known.tables.get(name);
      // Only ACTIVE definitions were read for this call (its reads refuse a table being created or deleted).
      if (table) process.nextTick(done, null, table);
      else if (typeof checkStatus === 'function') store.getTable(name, checkStatus);
      else store.getTable(name, checkStatus, done);
    }) as DynaliteTables['getTable'],
    getItemDb: (name) => collecting(store.getItemDb(name), name),
    getIndexDb: (indexType, tableName, indexName) => collecting(store.getIndexDb(indexType, tableName, indexName)),
  };
}

/**
 * The LevelDB key under which sub-database `sub` stores `key`: asked of `sub` itself, whose `put` prefixes the key
 * and calls the LevelDB's `put` at once (synchronously), here answered by a stand-in that only notes the key. Asking
 * rather than repeating dynalite's prefixes keeps the batch's keys the ones dynalite's own reads and queries use.
 */
function keyInLevelDb(db: LevelDb, sub: ItemDb, key: string): string {
  const put = db.put;
  let noted: string | undefined;
  db.put = (levelKey) => {
    noted = levelKey;
  };
  try {
    sub.put(key, undefined, () => undefined);
  } finally {
    db.put = put;
  }
  if (noted === undefined) throw new Error('dynalite no longer writes its sub-databases through its LevelDB');
  return noted;
}

/** One TransactItem as the single-item request it stands for, validated and parsed as dynalite parses that request. */
function parse(transactItem: Item, store: DynaliteTables): { operation: Operation; data: Item; returnOld: boolean } {
  const entries = Object.entries(transactItem).filter(([name]) => name in operations);
  if (entries.length !== 1) throw validationError('Each TransactItem must name exactly one operation');
  const [[operation, raw]] = entries as [[Operation, Item]];
  const { validation } = operations[operation];
  const data = validations.checkTypes({ ...raw }, validation.types);
  validations.checkValidations(data, validation.types, validation.custom, store);
  return { operation, data, returnOld: raw.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' };
}

function call<T>(start: (cb: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => start((error, value) => (error ? reject(error) : resolve(value as T))));
}

function validationError(message: string): DynaliteError {
  return Object.assign(new Error(message), {
    statusCode: 400,
    body: { __type: 'com.amazon.coral.validate#ValidationException', message },
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/x-amz-json-1.0');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

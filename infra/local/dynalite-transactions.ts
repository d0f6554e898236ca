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
}
/** dynalite's store (`dynalite/db/index.js` create()): its tables and items. */
export interface DynaliteTables {
  getTable(name: string, cb: Callback<Record<string, unknown>>): void;
  getItemDb(name: string): ItemDb;
}
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
  checkConditional(data: Item, existing: Item | undefined): DynaliteError | null | undefined;
};
const operations = {
  Put: { validation: 'putItem', action: 'putItem' },
  Update: { validation: 'updateItem', action: 'updateItem' },
  Delete: { validation: 'deleteItem', action: 'deleteItem' },
  // A condition check is parsed like a delete (Key + ConditionExpression) and writes nothing.
  ConditionCheck: { validation: 'deleteItem', action: undefined },
} as const;
type Operation = keyof typeof operations;

const TARGET = 'DynamoDB_20120810.TransactWriteItems';

/**
 * dynalite has no TransactWriteItems, which the audit trail needs (an event and its request's chain head in one
 * write). This adds it to a dynalite server, with DynamoDB's semantics for what the service uses: every condition is
 * checked against the stored items (with dynalite's own parser and evaluator), and only if all hold are the writes
 * applied (with dynalite's own actions); otherwise nothing is written and the answer is a
 * `TransactionCanceledException` whose `CancellationReasons` say, item by item, which condition failed (with the
 * item as stored, for an item that asked for it with `ReturnValuesOnConditionCheckFailure: ALL_OLD`).
 *
 * Isolation: a transaction runs alone. Every other request waits until it is done, and it waits until the requests
 * in flight are done, so no reader sees half of it and no writer slips between its check and its writes. What it does
 * not have is DynamoDB's durability across a crash: a process killed between two of its writes keeps the first. The
 * writers that use transactions are ordered (the request's chain head is written last) and recover from that.
 */
export function addTransactWriteItems(server: Server, store: DynaliteTables): void {
  const handlers = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  server.removeAllListeners('request');
  const gate = new ReadWriteGate();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.headers['x-amz-target'] === TARGET) {
      void gate.exclusive(() => transact(store, req, res));
      return;
    }
    void gate.shared(
      () =>
        new Promise<void>((resolve) => {
          res.once('close', resolve);
          for (const handler of handlers) handler.call(server, req, res);
        }),
    );
  });
}

async function transact(store: DynaliteTables, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    const input = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { TransactItems?: Item[] };
    const items = (input.TransactItems ?? []).map((item) => parse(item, store));
    if (items.length === 0 || items.length > 100) {
      throw validationError('Member must have length between 1 and 100 (TransactItems)');
    }
    const targets = new Set<string>();
    const prepared = [];
    for (const item of items) {
      const table = await call<Record<string, unknown>>((cb) => store.getTable(String(item.data.TableName), cb));
      const key = db.createKey((item.data.Key ?? item.data.Item) as Item, table);
      const target = `${String(item.data.TableName)}\u0000${key}`;
      if (targets.has(target)) {
        throw validationError('Transaction request cannot include multiple operations on one item');
      }
      targets.add(target);
      const existing = await call<Item>((cb) => store.getItemDb(String(item.data.TableName)).get(key, cb)).catch(
        (error: DynaliteError) => {
          if (error.name === 'NotFoundError') return undefined;
          throw error;
        },
      );
      prepared.push({ ...item, existing, failed: db.checkConditional(item.data, existing) != null });
    }
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
    // Nothing can have changed since the checks (this runs alone), so each write's own condition holds again.
    for (const item of prepared) {
      const name = operations[item.operation].action;
      if (!name) continue;
      const action = require(`dynalite/actions/${name}.js`) as Action;
      await call<Item>((cb) => action(store, item.data, cb));
    }
    send(res, 200, {});
  } catch (error) {
    const failure = error as DynaliteError;
    if (failure.statusCode && failure.body) return send(res, failure.statusCode, failure.body);
    send(res, 500, { __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: String(error) });
  }
}

/** One TransactItem as the single-item request it stands for, validated and parsed as dynalite parses that request. */
function parse(transactItem: Item, store: DynaliteTables): { operation: Operation; data: Item; returnOld: boolean } {
  const entries = Object.entries(transactItem).filter(([name]) => name in operations);
  if (entries.length !== 1) throw validationError('Each TransactItem must name exactly one operation');
  const [[operation, raw]] = entries as [[Operation, Item]];
  const validation = require(`dynalite/validations/${operations[operation].validation}.js`) as ActionValidation;
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

/** Many shared holders at once, or one exclusive holder; waiting exclusive holders go first (no starvation). */
class ReadWriteGate {
  #shared = 0;
  #exclusive = false;
  #waiting: Array<{ exclusive: boolean; start: () => void }> = [];

  shared<T>(work: () => Promise<T>): Promise<T> {
    return this.#run(false, work);
  }

  exclusive<T>(work: () => Promise<T>): Promise<T> {
    return this.#run(true, work);
  }

  async #run<T>(exclusive: boolean, work: () => Promise<T>): Promise<T> {
    if (!this.#admits(exclusive)) {
      await new Promise<void>((start) => this.#waiting.push({ exclusive, start }));
    } else this.#enter(exclusive);
    try {
      return await work();
    } finally {
      if (exclusive) this.#exclusive = false;
      else this.#shared--;
      this.#wake();
    }
  }

  #admits(exclusive: boolean): boolean {
    if (this.#exclusive) return false;
    if (exclusive) return this.#shared === 0 && this.#waiting.length === 0;
    return !this.#waiting.some((w) => w.exclusive);
  }

  #enter(exclusive: boolean): void {
    if (exclusive) this.#exclusive = true;
    else this.#shared++;
  }

  #wake(): void {
    while (this.#waiting.length > 0 && !this.#exclusive) {
      const next = this.#waiting[0] as { exclusive: boolean; start: () => void };
      if (next.exclusive && this.#shared > 0) return;
      this.#waiting.shift();
      this.#enter(next.exclusive);
      next.start();
      if (next.exclusive) return;
    }
  }
}

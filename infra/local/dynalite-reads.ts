/** The part of dynalite's LevelDB (classic-level, or memory-level in memory) that its reads go through. */
export interface ReadableLevel {
  status: string;
  /** dynalite's callback form (its `wrapWithCallbacks`): the answer comes through the libuv thread pool. */
  get(key: string, callback?: (error: Error | null | undefined, value?: unknown) => void): unknown;
  /** abstract-level 3: the same read, on the calling thread; `undefined` for a missing key. */
  getSync?(key: string): unknown;
}

/**
 * Makes every point read of dynalite's store (GetItem, BatchGetItem, each write's read of the stored item and of the
 * table's definition, a transaction's condition checks) a synchronous LevelDB read on dynalite's own thread, answered on
 * the next tick, instead of a round trip through the libuv thread pool followed by a `setImmediate` (dynalite's
 * wrapper). A LevelDB point read takes microseconds (memtable, then cached blocks); the round trip took 0.5 ms when
 * idle and 25-85 ms at the 90th-99th percentile while a backlog drained, because the pool is the process's (4 threads
 * for every thread of `npm start`) and each answer waits for a full turn of dynalite's event loop. A
 * PutItem read twice before writing; an intake's TransactWriteItems made 17 such round trips one after the other.
 * Range reads (Query, Scan) keep their iterators; a database not open yet (or closing) keeps the asynchronous path,
 * whose errors dynalite knows.
 */
export function readOnThisThread(db: ReadableLevel): void {
  const getSync = db.getSync?.bind(db);
  if (!getSync) return;
  const viaPool = db.get.bind(db);
  db.get = (key, callback) => {
    if (typeof callback !== 'function' || db.status !== 'open') return viaPool(key, callback);
    let value: unknown;
    try {
      value = getSync(key);
    } catch (error) {
      process.nextTick(callback, error);
      return;
    }
    process.nextTick(callback, null, value);
  };
}

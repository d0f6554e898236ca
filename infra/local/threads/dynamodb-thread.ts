import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { compactor, startDynalite } from '../dynamodb.ts';
import { serveCalls } from './rpc.ts';
import { nameThisThread } from './thread-end.ts';

/**
 * The DynamoDB thread of `npm start`: dynalite and its LevelDB, on an event loop of their own. The workflow thread
 * reaches it over HTTP, as a Lambda function reaches DynamoDB; the API thread's calls come over `apiPort` (the same
 * calls, without loopback HTTP: dynalite-port.ts); the purge of deleted values (`compact`), which needs the LevelDB
 * itself, is a call between threads.
 */
if (!parentPort) throw new Error('dynamodb-thread.ts runs as a worker thread of the local runtime');
const { apiPort } = workerData as { apiPort: MessagePort };
nameThisThread('dynamodb');
let compact: ((table: string) => Promise<void>) | undefined;
let stop: (() => Promise<void>) | undefined;
serveCalls(
  parentPort,
  {
    start: async (path: string | undefined) => {
      const server = await startDynalite(path);
      server.serveOn(apiPort);
      compact = compactor(server.store);
      stop = server.stop;
      return { endpoint: server.endpoint, backgroundEndpoint: server.backgroundEndpoint };
    },
    compact: (table: string) => compact?.(table),
    stop: () => stop?.(),
  },
  () => undefined,
);

import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { createDocumentClient } from '#shared/composition';
import { parseConfig } from '#shared/config';
import { createLogger, describeError } from '#shared/observability';
import { systemClock } from '#shared/ports/audit';
import { type DynamoPurgeMethods, localDynamoClient } from '../dynamodb.ts';
import { type LogFormat, writeLogsFromThisThread } from '../log-format.ts';
import type { SimulatorsWanted } from '../simulated-providers.ts';
import { composeWorkflows, type WorkflowSide } from '../workflows.ts';
import { callerOf, serveCalls } from './rpc.ts';
import { nameThisThread } from './thread-end.ts';
import type { EngineName, WorkflowThreadMethods } from './workflows.ts';

/**
 * The workflow thread of `npm start`: both state machines, the task functions, the receipt issuer, the request sweeper
 * and the demo simulators, built by the same composition as in one thread (../workflows.ts). It reaches DynamoDB over
 * HTTP, as a Lambda function reaches DynamoDB, and the purge of deleted values (which needs dynalite's LevelDB, on the
 * main thread) through `dynamoPort`.
 */
/** Connections from the workflows to dynalite; dynalite runs one call at a time on its loop, so a few keep it busy. */
const WORKFLOW_DYNAMODB_CONNECTIONS = 4;
if (!parentPort) throw new Error('workflow-thread.ts runs as a worker thread of the local runtime');
const { dynamoPort, logFormat, colorize } = workerData as {
  dynamoPort: MessagePort;
  logFormat: LogFormat;
  colorize: { stdout: boolean; stderr: boolean };
};
nameThisThread('workflows');
writeLogsFromThisThread(logFormat, colorize);
const logger = createLogger('local-runtime');
const dynamo = callerOf<DynamoPurgeMethods>(dynamoPort);
const stops: Array<() => Promise<void>> = [];
let side: WorkflowSide | undefined;

const composed = (): WorkflowSide => {
  if (!side) throw new Error('The workflow thread has not been composed yet');
  return side;
};
const engine = (name: EngineName) => {
  const found = name === 'callbacks' ? composed().callbacks : composed().workflow;
  if (!found) throw new Error(`No ${name} state machine in this configuration`);
  return found;
};

const methods: WorkflowThreadMethods = {
  startSimulators: async (wanted: SimulatorsWanted) => {
    // Loaded only when a provider is simulated: a start against real providers (or the soak's own simulators) skips
    // their code and the demo data (0.2 s of CPU).
    const { startSimulators } = await import('../demo-simulators.ts');
    const started = await startSimulators(wanted);
    stops.push(started.stop);
    return started.urls;
  },
  compose: async (env, { dataDir, apiUrl, options }) => {
    const config = parseConfig(env);
    // A backlog's calls queue here rather than in dynalite, where each would be one more in front of an intake's call;
    // they reach dynalite through its background entrance (DYNAMODB_ENDPOINT here), which gives way to the API's calls.
    const client = localDynamoClient(config.dynamoDbEndpoint as string, { maxSockets: WORKFLOW_DYNAMODB_CONNECTIONS });
    stops.push(async () => client.destroy());
    side = composeWorkflows(
      {
        config,
        db: createDocumentClient(config, client),
        clock: systemClock,
        dataDir,
        makeDeletionFinal: () => dynamo.call('compact', config.tables.identities),
        logger,
        apiUrl: () => apiUrl,
      },
      options,
    );
  },
  start: (requestId, schedule) => composed().workflow.start(requestId, schedule),
  stop: (requestId) => composed().workflow.stop(requestId),
  ensureRunning: (requestId) => composed().workflow.ensureRunning(requestId),
  settled: (name, requestId) => engine(name).settled(requestId),
  idle: (name) => engine(name).idle(),
  abortAll: (name) => engine(name).abortAll(),
  // Through the side's scheduler, which writes the request down before the start (resumed after a restart).
  scheduleCallback: async (requestId) => {
    const scheduler = composed().callbackScheduler;
    if (!scheduler) throw new Error('No callbacks state machine in this configuration');
    await scheduler.schedule(requestId);
  },
  issueReceipt: (requestId) => composed().receipts.issue(requestId),
  sweep: () => composed().sweep(),
  resume: () => composed().resume(),
  shutdown: async ({ crash }) => {
    await side?.stop({ crash });
    for (const stop of stops.splice(0).reverse()) await stop();
  },
};
serveCalls(parentPort, methods, (method, error) =>
  logger.error('Workflow thread call failed', { method, ...describeError(error) }),
);

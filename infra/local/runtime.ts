import { resolve } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import type { AuditStores } from '#shared/composition/stores';
import { type Config, ConfigError, parseConfig, required } from '#shared/config';
import { createLogger, describeError } from '#shared/observability';
import type { Clock } from '#shared/ports/audit';
import { systemClock } from '#shared/ports/audit';
import { currentInvocationBudget } from '#shared/workflow/invocation-budget';
import { DataDirInUseError, dataDirHolder, lockDataDir } from './data-dir-lock.ts';
import type { LogFormat } from './log-format.ts';
import {
  ensurePrivateDirectory,
  type LocalSecrets,
  loadOrCreateLocalSecrets,
  loadOrCreateSenderSecrets,
  SECRET_NAMES,
  type SecretSource,
  withSecretStandIns,
} from './secrets.ts';
import { localSecretsFile, moveLegacySecrets } from './secrets-file.ts';
import { type ApiFunction, type ApiServer, startApiServer } from './server.ts';
import { requireProviderCredentials, type Simulators, simulatorsWanted } from './simulated-providers.ts';
import { startWorkflowThread } from './threads/workflows.ts';
import type { LocalWorkflowControl, LocalWorkflowEngine } from './workflow-engine.ts';
import type { WorkflowSideControl } from './workflows.ts';

export interface LocalRuntimeOptions {
  env?: NodeJS.ProcessEnv;
  /** Keep DynamoDB in memory instead of under DATA_DIR (tests that need no restart). */
  inMemory?: boolean;
  clock?: Clock;
  /** Observer of every workflow execution event (state inputs/outputs). */
  onWorkflowEvent?: (requestId: string, event: unknown) => void;
  retryIntervalOverrides?: Record<string, number | number[]>;
  /** Milliseconds a Wait state pauses, by state name (tests shorten the batch poll wait). */
  waitTimeOverrides?: Record<string, number>;
  /** Time limit of each workflow task invocation (default 60 s, as the local Task states' timeout). */
  taskTimeoutMs?: number;
  /** Simulators to use instead of starting demo ones (tests seed their own). */
  simulators?: Simulators;
  /** Whether to resume unfinished requests at start (default true). */
  resume?: boolean;
  /**
   * Sees every DynamoDB command once it is answered: its name, its table (a transaction's or batch's tables, sorted and
   * joined by `+`), the task or function it ran in, if any, and the error's name if it failed (e.g. a conditional write
   * that lost a race).
   */
  observeDynamoDb?: (command: {
    name: string;
    table: string | undefined;
    invocation?: string;
    failed?: string;
  }) => void;
  /** How often the request sweeper runs (default 5 minutes; 0: never on its own, tests call `sweep()`). */
  sweepIntervalMs?: number;
  /**
   * Called once the API answers, before unfinished requests are resumed and swept (whose logs follow): `npm start`
   * prints its banner here, so the banner comes first.
   */
  onListening?: (runtime: LocalRuntime<LocalWorkflowControl>) => void;
  /**
   * Run the workflow side (both state machines, their task functions, the receipt issuer, the sweeper and the demo
   * simulators) in a worker thread of its own, leaving the main thread's event loop to the API and the DynamoDB it
   * writes to: what `npm start` does (see {@link startLocalRuntime}). Options that are functions (`clock`,
   * `onWorkflowEvent`, `observeDynamoDb`, `simulators`) cannot cross a thread boundary and are refused with it.
   */
  threads?: boolean;
  /** How the workflow thread prints its logs (the main thread's are set by main.ts); default `json`. */
  logFormat?: LogFormat;
}

/** The local runtime; `W` is what its workflow engines are to the caller (at hand in-process, controls threaded). */
export interface LocalRuntime<W extends LocalWorkflowControl = LocalWorkflowEngine> {
  url: string;
  config: Readonly<Config>;
  dataDir: string;
  /** Where the generated secrets are kept (outside DATA_DIR). */
  secretsFile: string;
  secrets: LocalSecrets;
  secretsCreated: boolean;
  /** Where the senders' secrets are: the local secrets file, or the environment (SENDER_SECRETS). */
  senderSecretsFrom: 'file' | 'environment';
  /** Where each secret came from: the environment's are never printed. */
  secretSources: Record<keyof LocalSecrets, SecretSource>;
  /** Whether this start moved the secrets an earlier version kept in DATA_DIR out to `secretsFile`. */
  movedLegacySecrets: boolean;
  /** The process whose stale DATA_DIR lock this start took over (it ended without stopping), if any. */
  dataDirTakenOverFrom: number | undefined;
  /** The simulators in this thread (in-process only: threaded, they run in the workflow thread). */
  simulators: Simulators;
  /** Which providers are simulated on this machine. */
  simulated: { referralRock: boolean; firstPromoter: boolean };
  /** Whether DynamoDB and the workflow side run in threads of their own. */
  threads: boolean;
  workflow: W;
  /** The completion callbacks' state machine, when CALLBACK_URLS is set. */
  callbacks: W | undefined;
  /** The stores the functions use (tests read the delivery logs through them). */
  stores: AuditStores;
  resumed: string[];
  /** Runs the request sweeper once: stalled starts, pending promoter restores, overdue count. */
  sweep(): Promise<Record<string, number>>;
  /** Stops everything; with `crash`, running executions are aborted mid-way as a killed process would leave them. */
  stop(options?: { crash?: boolean }): Promise<void>;
}

/** The sender names of a SENDERS value; none when it is not a JSON object (parseConfig then names the problem). */
function namesOf(senders: string | undefined): string[] {
  try {
    const value: unknown = senders ? JSON.parse(senders) : undefined;
    return value && typeof value === 'object' && !Array.isArray(value) ? Object.keys(value) : [];
  } catch {
    return [];
  }
}

/**
 * The one-machine runtime: dynalite for DynamoDB, the ASL run by aws-local-stepfunctions, a node:http API, and provider
 * simulators for any provider without a base URL. Every handler is the one the stack deploys, built by the same
 * factories; only the clients and the workflow engine differ.
 *
 * With `threads` (what `npm start` runs), two event loops share the work: the main thread holds the API (the intake
 * and every other route, as API Gateway's Lambdas) and dynalite, which the API's calls reach with no other thread in
 * between (dynalite-direct.ts); a workflow thread holds both state machines with their task functions, the receipt
 * issuer, the sweeper and the demo simulators, and reaches dynalite over HTTP through an entrance that gives way to
 * the API's calls (dynalite-precedence.ts). On one loop, a backlog's workflows (the engine, the SDK's request building
 * and parsing, the task functions) queued every intake request behind them: 11 s p99 at 50 requests a second, against
 * 13 ms for a bare node:http server. dynalite had a thread of its own as well until the intake's path was measured
 * hop by hop: its call then crossed four thread hand-offs instead of two, each waiting for a core on a busy machine,
 * for dynalite work (its point reads synchronous, its writes one LevelDB batch) that the intake waits for anyway.
 * Worker threads rather than child processes, because a SIGKILL of the process then ends them all at once, as it ends
 * a single-threaded runtime (nothing survives to hold DATA_DIR's LevelDB), and they share the process's DATA_DIR lock;
 * and rather than a bounded queue alone, which limits how many workflows run, not how much of the loop their provider
 * calls and engine take. The threads talk as AWS services do: DynamoDB calls made by the SDK, a workflow start posted
 * without waiting (StartExecution), receipts and sweeps called.
 */
export async function startLocalRuntime(
  options: LocalRuntimeOptions & { threads: true },
): Promise<LocalRuntime<LocalWorkflowControl>>;
export async function startLocalRuntime(options?: LocalRuntimeOptions & { threads?: false }): Promise<LocalRuntime>;
export async function startLocalRuntime(
  options: LocalRuntimeOptions = {},
): Promise<LocalRuntime<LocalWorkflowControl>> {
  if (options.threads) {
    const functions = (['clock', 'onWorkflowEvent', 'observeDynamoDb', 'simulators'] as const).filter(
      (name) => options[name] !== undefined,
    );
    if (functions.length)
      throw new Error(`${functions.join(', ')} cannot reach the runtime's threads: start in-process`);
  }
  const env = { ...(options.env ?? process.env) };
  const logger = createLogger('local-runtime');
  const dataDir = resolve(env.DATA_DIR ?? '.data');
  // Everything that can be refused is checked before anything is written: the settings (the secrets come later; a
  // missing one is no error yet), the secrets file's place, who holds DATA_DIR, and the port.
  const port = parsePort(env.PORT);
  // SENDERS is checked with its secrets, which may come from the secrets file: once that is read.
  parseConfig({ ...withSecretStandIns(env), SENDERS: undefined });
  requireProviderCredentials(env);
  const secretsFile = localSecretsFile(dataDir, env);
  const holder = await dataDirHolder(dataDir);
  if (holder !== undefined) throw new DataDirInUseError(dataDir, holder);
  const api = await startApiServer({
    logger,
    port,
    // As the stack sizes them (infra/erasure-stack.ts SIZING): a 1,000-identifier suppression check takes seconds, and
    // a cancel on the API thread starts its receipt's issue only while 15 s of its budget are left (receipt-time.ts).
    timeoutsMs: { 'suppression-check': 28_000, 'cancel-request': 28_000 },
  });

  const stops: Array<() => Promise<void>> = [() => api.stop()];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  };
  try {
    return await startOn(api, { env, logger, dataDir, secretsFile, stops, stopAll }, options);
  } catch (error) {
    await stopAll().catch(() => undefined);
    throw error;
  }
}

/** `PORT`: 0 (any free port) to 65535. @throws ConfigError naming PORT, never its value */
function parsePort(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return DEFAULT_PORT;
  const port = /^\d{1,5}$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!(port >= 0 && port <= 65_535)) {
    throw new ConfigError('Invalid configuration: PORT: must be a port number from 0 to 65535');
  }
  return port;
}

const DEFAULT_PORT = 3000;

async function startOn(
  api: ApiServer,
  started: {
    env: NodeJS.ProcessEnv;
    logger: ReturnType<typeof createLogger>;
    dataDir: string;
    secretsFile: string;
    stops: Array<() => Promise<void>>;
    stopAll: () => Promise<void>;
  },
  options: LocalRuntimeOptions,
): Promise<LocalRuntime<LocalWorkflowControl>> {
  const { env, logger, dataDir, secretsFile, stops } = started;
  const threads = options.threads === true;
  // Everything this process creates from now on (dynalite's LevelDB files included, which it writes as it pleases) is
  // its owner's alone: 0600 files, 0700 directories. The local runtime owns its process, as a Lambda owns its sandbox.
  process.umask(0o077);
  await ensurePrivateDirectory(dataDir);
  const lock = await lockDataDir(dataDir);
  stops.push(() => lock.release());
  const movedSecrets = await moveLegacySecrets(dataDir, secretsFile);
  const given = SECRET_NAMES.filter((name) => env[name] !== undefined && env[name] !== '');
  const { secrets, created, sources } = await loadOrCreateLocalSecrets(secretsFile, given);
  for (const [name, value] of Object.entries(secrets)) {
    if (typeof value === 'string') env[name] ??= value;
  }
  // Sender profiles without SENDER_SECRETS in the environment get theirs from (and generated into) the same file.
  const senderNames = namesOf(env.SENDERS);
  const senderSecretsInFile = senderNames.length > 0 && env.SENDER_SECRETS === undefined;
  if (senderSecretsInFile) env.SENDER_SECRETS = await loadOrCreateSenderSecrets(secretsFile, senderNames);
  // Nothing can refuse the start from here: the functions and adapters load while the threads start (api-functions.ts).
  const loading = import('./api-functions.ts');
  loading.catch(() => undefined);

  // Threaded, both threads start at once: the workflow thread's imports (every task function) and simulators overlap
  // dynalite's start.
  const channel = threads ? new MessageChannel() : undefined;
  const workflowThread = channel
    ? startWorkflowThread(channel.port2, { format: options.logFormat ?? 'json' })
    : undefined;
  if (workflowThread) stops.push(() => workflowThread.stop());
  // A provider without a base URL is served by its simulator, with demo data and demo credentials unless given; in the
  // workflow thread when threaded, where the provider task functions call it.
  const wanted = simulatorsWanted(env);
  const threadSimulators = workflowThread?.startSimulators(wanted);
  // Awaited below; a failed DynamoDB start must not leave it an unhandled rejection meanwhile.
  threadSimulators?.catch(() => undefined);
  const { startLocalDynamo } = await loading;
  // dynalite runs on this thread, the API's: the API's calls are answered here with no other thread in between
  // (dynalite-direct.ts); the workflow thread's come over HTTP through the background entrance. Without threads (the
  // tests' runtime), the workflows' calls are made on this thread too, so they are answered directly as well: over
  // loopback HTTP, each call paid for an HTTP client and an HTTP server in the same process, 2.4-2.8 against 1.2-1.3 ms
  // of CPU a PutItem or GetItem (400 of each, twice, on the loaded 2-core machine), and an erasure makes about 45.
  const dynamo = await startLocalDynamo(options.inMemory ? undefined : resolve(dataDir, 'dynamodb'), {
    direct: true,
    ...(channel ? { serveOn: [channel.port1] } : {}),
  });
  stops.push(async () => {
    try {
      await dynamo.stop();
    } catch (error) {
      logger.warn('DynamoDB stop failed', describeError(error));
    }
  });
  env.DYNAMODB_ENDPOINT = dynamo.endpoint;
  let simulators: Simulators = {};
  if (threadSimulators) {
    const urls = await threadSimulators;
    if (urls.referralRock) env.REFERRALROCK_BASE_URL = urls.referralRock;
    if (urls.firstPromoter) env.FIRSTPROMOTER_BASE_URL = urls.firstPromoter;
  } else {
    // Imported here, not at the top: threaded, only the workflow thread loads the simulators and task functions.
    const { startSimulators } = await import('./demo-simulators.ts');
    const inProcess = await startSimulators(wanted, options.simulators);
    stops.push(inProcess.stop);
    simulators = inProcess.simulators;
    if (inProcess.urls.referralRock) env.REFERRALROCK_BASE_URL = inProcess.urls.referralRock;
    if (inProcess.urls.firstPromoter) env.FIRSTPROMOTER_BASE_URL = inProcess.urls.firstPromoter;
  }

  const observe = options.observeDynamoDb;
  if (observe) {
    dynamo.client.middlewareStack.add(
      (next, context) => async (args) => {
        const invocation = currentInvocationBudget()?.name;
        const command = {
          name: String(context.commandName),
          table: tablesOf(args.input),
          ...(invocation ? { invocation } : {}),
        };
        try {
          const output = await next(args);
          observe(command);
          return output;
        } catch (error) {
          observe({ ...command, failed: error instanceof Error ? error.name : 'Error' });
          throw error;
        }
      },
      { step: 'initialize', name: 'observeDynamoDb' },
    );
  }
  const config = parseConfig(env);

  await dynamo.ensureTables(config.tables);
  // What an earlier run deleted but a crash kept from being purged leaves the disk now (identities; and the identity
  // attribute requests held before the identities table existed).
  await dynamo.compact(config.tables.identities);
  await dynamo.compact(config.tables.requests);
  const {
    apiDocument,
    cancelRequest,
    consoleFiles,
    createAuditStores,
    createDocumentClient,
    createIdentityCipher,
    createTransparencyLog,
    evidence,
    extendRequest,
    firstPromoterOnFirstCall,
    getRequest,
    intake,
    listRequests,
    loadStaticFiles,
    senderIntake,
    subjectLookup,
    suppressionCheck,
  } = await loading;
  // The same DynamoDB adapter as in AWS; dynalite only needs each identity deletion compacted to be final on disk.
  const db = createDocumentClient(config, dynamo.client);
  const clock = options.clock ?? systemClock;
  const makeDeletionFinal = () => dynamo.compact(config.tables.identities);
  const stores = createAuditStores(config, db, clock, { makeDeletionFinal });
  const sideOptions = {
    ...(options.retryIntervalOverrides ? { retryIntervalOverrides: options.retryIntervalOverrides } : {}),
    ...(options.waitTimeOverrides ? { waitTimeOverrides: options.waitTimeOverrides } : {}),
    ...(options.taskTimeoutMs ? { taskTimeoutMs: options.taskTimeoutMs } : {}),
    ...(options.sweepIntervalMs === undefined ? {} : { sweepIntervalMs: options.sweepIntervalMs }),
  };
  const side: WorkflowSideControl = workflowThread
    ? await workflowThread.compose(
        // The workflows' calls give way to the API's in dynalite (dynalite-precedence.ts).
        { ...env, DYNAMODB_ENDPOINT: dynamo.backgroundEndpoint },
        { dataDir, apiUrl: api.url, options: sideOptions },
        config.callbacks.urls.length > 0,
      )
    : (await import('./workflows.ts')).composeWorkflows(
        { config, db, clock, dataDir, makeDeletionFinal, logger, apiUrl: () => api.url },
        { ...sideOptions, ...(options.onWorkflowEvent ? { onWorkflowEvent: options.onWorkflowEvent } : {}) },
      );
  const { workflow, receipts } = side;
  const withCallbacks = side.callbackScheduler ? { callbacks: side.callbackScheduler } : {};
  // The cancel route restores archived promoters, through the same shared rate budget as the task functions.
  const firstPromoter = firstPromoterOnFirstCall(config, db);
  const cipher = createIdentityCipher(config);

  const pseudonymKey = required(config.pseudonymKey, 'PSEUDONYM_KEY');
  const auditTokens = required(config.auditTokens, 'AUDIT_TOKENS');
  const operatorTokens = required(config.operatorTokens, 'OPERATOR_TOKENS');
  const requestDeps = {
    ...stores,
    workflow,
    cipher,
    pseudonymKey,
    retentionDays: config.auditRetentionDays,
    deadlineTimeZone: config.deadlineTimeZone,
  };
  api.serve({
    intake: intake({
      ...requestDeps,
      webhookSecrets: required(config.webhookSecrets, 'WEBHOOK_SECRET'),
      publicBaseUrl: config.publicBaseUrl,
    }) as ApiFunction,
    'sender-intake': senderIntake({
      ...requestDeps,
      senders: config.senders,
      publicBaseUrl: config.publicBaseUrl,
    }) as ApiFunction,
    'get-request': getRequest({ ...stores, auditTokens }) as ApiFunction,
    'list-requests': listRequests({ ...stores, auditTokens }) as ApiFunction,
    'cancel-request': cancelRequest({
      ...stores,
      workflow,
      firstPromoter,
      ...withCallbacks,
      operatorTokens,
      auditTokens,
      receipts,
    }) as ApiFunction,
    'extend-request': extendRequest({
      ...stores,
      deadlineTimeZone: config.deadlineTimeZone,
      operatorTokens,
      auditTokens,
    }) as ApiFunction,
    'subject-lookup': subjectLookup({ ...stores, pseudonymKey, auditTokens }) as ApiFunction,
    'suppression-check': suppressionCheck({
      requests: stores.requests,
      pseudonymKey,
      suppressionTokens: required(config.suppressionTokens, 'SUPPRESSION_TOKENS'),
      otherRoleTokens: auditTokens,
    }) as ApiFunction,
    evidence: evidence({ log: createTransparencyLog(config, db, clock), auditTokens }) as ApiFunction,
    'api-document': onFirstCall(async () => {
      // Parsed at the first request: loading the YAML parser and parsing docs/openapi.yaml cost every start of
      // `npm start` 0.25 s of CPU on the thread that answers the API.
      const { loadApiDocument } = await import('../api-document.ts');
      return apiDocument({ document: loadApiDocument(), publicBaseUrl: config.publicBaseUrl });
    }),
    console: consoleFiles({ files: loadStaticFiles() }) as ApiFunction,
  });

  const resumed: string[] = [];
  const runtime: LocalRuntime<LocalWorkflowControl> = {
    url: api.url,
    config,
    dataDir,
    secretsFile,
    secrets: {
      WEBHOOK_SECRET: env.WEBHOOK_SECRET as string,
      AUDIT_TOKENS: env.AUDIT_TOKENS as string,
      OPERATOR_TOKENS: env.OPERATOR_TOKENS as string,
      SUPPRESSION_TOKENS: env.SUPPRESSION_TOKENS as string,
      CALLBACK_SECRET: env.CALLBACK_SECRET as string,
      PSEUDONYM_KEY: env.PSEUDONYM_KEY as string,
      IDENTITY_KEY: env.IDENTITY_KEY as string,
      RECEIPT_SIGNING_KEY: env.RECEIPT_SIGNING_KEY as string,
    },
    secretsCreated: created,
    senderSecretsFrom: senderSecretsInFile ? 'file' : 'environment',
    secretSources: sources,
    movedLegacySecrets: movedSecrets,
    dataDirTakenOverFrom: lock.tookOverFrom,
    simulators,
    simulated: { referralRock: wanted.referralRock !== undefined, firstPromoter: wanted.firstPromoter !== undefined },
    threads,
    workflow,
    callbacks: side.callbacks,
    stores,
    resumed,
    sweep: () => side.sweep(),
    stop: async ({ crash = false } = {}) => {
      await api.stop();
      await side.stop({ crash });
      await started.stopAll();
    },
  };
  options.onListening?.(runtime);

  // Resume what a crash or stop left unfinished: every step is idempotent, so running it again is safe.
  if (options.resume ?? true) resumed.push(...(await side.resume()));
  return runtime;
}

/** The table a command names, or the tables of a transaction's or batch's items (sorted, joined by `+`). */
function tablesOf(input: unknown): string | undefined {
  const { TableName, TransactItems, RequestItems } = input as {
    TableName?: unknown;
    TransactItems?: Array<Record<string, { TableName?: string }>>;
    RequestItems?: Record<string, unknown>;
  };
  if (typeof TableName === 'string') return TableName;
  const names = new Set<string>(Object.keys(RequestItems ?? {}));
  for (const item of TransactItems ?? []) {
    for (const operation of Object.values(item)) if (operation?.TableName) names.add(operation.TableName);
  }
  return names.size ? [...names].sort().join('+') : undefined;
}

/** An API function built at its first call (a second call while it is built waits for the same one). */
function onFirstCall(build: () => Promise<ApiFunction>): ApiFunction {
  let built: Promise<ApiFunction> | undefined;
  return async (event, context) => {
    built ??= build().catch((error: unknown) => {
      built = undefined;
      throw error;
    });
    return (await built)(event, context);
  };
}

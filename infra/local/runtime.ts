import { join, resolve } from 'node:path';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { makeHandler as apiDocument } from '#functions/api-document/handler';
import { makeHandler as callbackDelivery } from '#functions/callback-delivery/handler';
import { makeHandler as cancelRequest } from '#functions/cancel-request/handler';
import { makeHandler as consoleFiles } from '#functions/console/handler';
import { loadStaticFiles } from '#functions/console/static-files';
import { makeHandler as evidence } from '#functions/evidence/handler';
import { makeHandler as extendRequest } from '#functions/extend-request/handler';
import { makeHandler as firstPromoterTasks } from '#functions/firstpromoter-tasks/handler';
import { makeHandler as getRequest } from '#functions/get-request/handler';
import { makeHandler as intake } from '#functions/intake/handler';
import { makeHandler as listRequests } from '#functions/list-requests/handler';
import { makeHandler as referralRockTasks } from '#functions/referralrock-tasks/handler';
import { makeHandler as requestSweeper } from '#functions/request-sweeper/handler';
import { makeHandler as requestTasks } from '#functions/request-tasks/handler';
import { makeHandler as senderIntake } from '#functions/sender-intake/handler';
import { makeHandler as subjectLookup } from '#functions/subject-lookup/handler';
import { makeHandler as suppressionCheck } from '#functions/suppression-check/handler';
import { createWebhookSender } from '#shared/adapters/callbacks/webhook-sender';
import { FileTreeHeadPublisher } from '#shared/adapters/publishing/file-tree-heads';
import { KeySigner } from '#shared/adapters/signing/key-signer';
import { type CallbackScheduler, callbackTarget } from '#shared/callbacks/delivery';
import {
  type AuditStores,
  createAuditStores,
  createDocumentClient,
  createFirstPromoter,
  createIdentityCipher,
  createReferralRock,
  createTransparencyLog,
  receiptIssuerName,
} from '#shared/composition';
import { type Config, ConfigError, parseConfig, required } from '#shared/config';
import { issueReceipt } from '#shared/domain/receipts';
import { ReceiptIssueError } from '#shared/errors';
import { createLogger, describeError, SERVICE_NAME } from '#shared/observability';
import type { Clock } from '#shared/ports/audit';
import { systemClock } from '#shared/ports/audit';
import type { ReceiptIssuer } from '#shared/ports/evidence';
import { currentInvocationBudget } from '#shared/workflow/invocation-budget';
import { seedFirstPromoter, seedReferralRock } from '#test/simulators/demo-data';
import { FirstPromoterSimulator } from '#test/simulators/firstpromoter';
import { ReferralRockSimulator } from '#test/simulators/referralrock';
import { loadApiDocument } from '../api-document.ts';
import { DataDirInUseError, dataDirHolder, lockDataDir } from './data-dir-lock.ts';
import { startLocalDynamo } from './dynamodb.ts';
import { lambdaContext } from './lambda-context.ts';
import {
  ensurePrivateDirectory,
  type LocalSecrets,
  loadOrCreateLocalSecrets,
  loadOrCreateSenderSecrets,
  SECRET_NAMES,
  type SecretSource,
} from './secrets.ts';
import { localSecretsFile, moveLegacySecrets } from './secrets-file.ts';
import { type ApiFunction, type ApiServer, startApiServer } from './server.ts';
import { CALLBACK_ASL_PATH, LocalWorkflowEngine, scaledRetryIntervals, type TaskFunction } from './workflow-engine.ts';

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
  simulators?: { referralRock?: ReferralRockSimulator; firstPromoter?: FirstPromoterSimulator };
  /** Whether to resume unfinished requests at start (default true). */
  resume?: boolean;
  /** Observer of every DynamoDB command the service sends (`npm run bench` counts round trips per erasure). */
  /**
   * Sees every DynamoDB command: its name, its table (a transaction's or batch's tables, sorted and joined by `+`), and
   * the task or function it ran in, if any.
   */
  observeDynamoDb?: (command: { name: string; table: string | undefined; invocation?: string }) => void;
  /** How often the request sweeper runs (default 5 minutes; 0: never on its own, tests call `sweep()`). */
  sweepIntervalMs?: number;
  /**
   * Called once the API answers, before unfinished requests are resumed and swept (whose logs follow): `npm start`
   * prints its banner here, so the banner comes first.
   */
  onListening?: (runtime: LocalRuntime) => void;
}

export interface LocalRuntime {
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
  simulators: { referralRock?: ReferralRockSimulator; firstPromoter?: FirstPromoterSimulator };
  workflow: LocalWorkflowEngine;
  /** The completion callbacks' state machine, when CALLBACK_URLS is set. */
  callbacks: LocalWorkflowEngine | undefined;
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

const seeded = <T>(simulator: T, seed: (simulator: T) => void): T => {
  seed(simulator);
  return simulator;
};

const DEMO_CREDENTIALS = {
  REFERRALROCK_PUBLIC_KEY: 'demo-public',
  REFERRALROCK_PRIVATE_KEY: 'demo-private',
  FIRSTPROMOTER_API_KEY: 'demo-api-key',
  FIRSTPROMOTER_ACCOUNT_ID: 'demo-account',
};

/**
 * The one-machine runtime: dynalite for DynamoDB, the ASL run by aws-local-stepfunctions, a node:http API, and provider
 * simulators for any provider without a base URL. Every handler is the one the stack deploys, built by the same
 * factories; only the clients and the workflow engine differ.
 */
export async function startLocalRuntime(options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
  const env = { ...(options.env ?? process.env) };
  const logger = createLogger('local-runtime');
  const dataDir = resolve(env.DATA_DIR ?? '.data');
  // Everything that can be refused is checked before anything is written: the settings (the secrets come later; a
  // missing one is no error yet), the secrets file's place, who holds DATA_DIR, and the port.
  const port = parsePort(env.PORT);
  // SENDERS is checked with its secrets, which may come from the secrets file: once that is read.
  parseConfig({ ...env, SENDERS: undefined });
  const secretsFile = localSecretsFile(dataDir, env);
  const holder = await dataDirHolder(dataDir);
  if (holder !== undefined) throw new DataDirInUseError(dataDir, holder);
  const api = await startApiServer({
    logger,
    port,
    // As the stack sizes them (infra/erasure-stack.ts SIZING): a 1,000-identifier suppression check takes seconds.
    timeoutsMs: { 'suppression-check': 28_000 },
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
): Promise<LocalRuntime> {
  const { env, logger, dataDir, secretsFile, stops } = started;
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

  // A provider without a base URL is served by its simulator, with demo data and demo credentials unless given.
  const simulators = { ...options.simulators };
  if (!env.REFERRALROCK_BASE_URL) {
    env.REFERRALROCK_PUBLIC_KEY ??= DEMO_CREDENTIALS.REFERRALROCK_PUBLIC_KEY;
    env.REFERRALROCK_PRIVATE_KEY ??= DEMO_CREDENTIALS.REFERRALROCK_PRIVATE_KEY;
    simulators.referralRock ??= seeded(
      new ReferralRockSimulator({ publicKey: env.REFERRALROCK_PUBLIC_KEY, privateKey: env.REFERRALROCK_PRIVATE_KEY }),
      seedReferralRock,
    );
    const sim = simulators.referralRock;
    env.REFERRALROCK_BASE_URL = await sim.start();
    stops.push(() => sim.stop());
  }
  if (!env.FIRSTPROMOTER_BASE_URL) {
    env.FIRSTPROMOTER_API_KEY ??= DEMO_CREDENTIALS.FIRSTPROMOTER_API_KEY;
    env.FIRSTPROMOTER_ACCOUNT_ID ??= DEMO_CREDENTIALS.FIRSTPROMOTER_ACCOUNT_ID;
    simulators.firstPromoter ??= seeded(
      new FirstPromoterSimulator({ apiKey: env.FIRSTPROMOTER_API_KEY, accountId: env.FIRSTPROMOTER_ACCOUNT_ID }),
      seedFirstPromoter,
    );
    const sim = simulators.firstPromoter;
    env.FIRSTPROMOTER_BASE_URL = await sim.start();
    stops.push(() => sim.stop());
  }

  const dynamo = await startLocalDynamo(options.inMemory ? undefined : resolve(dataDir, 'dynamodb'));
  stops.push(async () => {
    try {
      await dynamo.stop();
    } catch (error) {
      logger.warn('DynamoDB stop failed', describeError(error));
    }
  });
  env.DYNAMODB_ENDPOINT = dynamo.endpoint;
  const observe = options.observeDynamoDb;
  if (observe) {
    dynamo.client.middlewareStack.add(
      (next, context) => (args) => {
        observe({
          name: String(context.commandName),
          table: tablesOf(args.input),
          ...(currentInvocationBudget()?.name ? { invocation: currentInvocationBudget()?.name } : {}),
        });
        return next(args);
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
  // The same DynamoDB adapter as in AWS; dynalite only needs each identity deletion compacted to be final on disk.
  const db = createDocumentClient(config, dynamo.client);
  const clock = options.clock ?? systemClock;
  const makeDeletionFinal = () => dynamo.compact(config.tables.identities);
  const stores = createAuditStores(config, db, clock, { makeDeletionFinal });
  // Only the provider task functions read identities, as in AWS.
  const identityStores = createAuditStores(config, db, clock, { makeDeletionFinal, readIdentity: true });
  const cipher = createIdentityCipher(config);
  // Completion callbacks run in a state machine of their own, as in AWS.
  let apiUrl: string | undefined;
  const callbackEngine = config.callbacks.urls.length
    ? new LocalWorkflowEngine({
        aslPath: CALLBACK_ASL_PATH,
        functions: {
          CallbackDeliveryFunctionArn: {
            name: 'callback-delivery',
            handler: callbackDelivery({
              requests: stores.requests,
              audit: stores.audit,
              sender: createWebhookSender({
                secrets: required(config.callbacks.secrets, 'CALLBACK_SECRET'),
                timeoutMs: 10_000,
              }),
              targets: config.callbacks.urls.map(callbackTarget),
              // Read when a callback is sent: the API's address is known once its server listens.
              get publicBaseUrl() {
                return config.publicBaseUrl ?? apiUrl ?? '';
              },
            }),
          },
        },
        logger,
        ...(config.localWorkflowRetryScale < 1
          ? { retryIntervalOverrides: scaledRetryIntervals(config.localWorkflowRetryScale, CALLBACK_ASL_PATH) }
          : {}),
        ...(options.taskTimeoutMs ? { taskTimeoutMs: options.taskTimeoutMs } : {}),
      })
    : undefined;
  const callbacks: CallbackScheduler | undefined = callbackEngine
    ? { schedule: (requestId) => callbackEngine.start(requestId) }
    : undefined;
  const withCallbacks = callbacks ? { callbacks } : {};
  // The same shared rate budgets as in AWS: one item per provider account in DynamoDB.
  const referralRock = createReferralRock(config, db);
  const firstPromoter = createFirstPromoter(config, db);
  // Receipts: the same log table as in AWS; the key from the local secrets file instead of KMS; tree heads published
  // to an append-only file under DATA_DIR instead of the Object Lock bucket.
  const log = createTransparencyLog(config, db, clock);
  const receiptDeps = {
    ...stores,
    log,
    signer: new KeySigner(required(config.receipts.signingKey, 'RECEIPT_SIGNING_KEY')),
    publisher: new FileTreeHeadPublisher(join(dataDir, 'transparency-log', 'tree-heads.jsonl')),
    issuer: receiptIssuerName(config),
  };
  // The stack's receipt-issuer function, called in process.
  const receipts: ReceiptIssuer = {
    issue: async (requestId) => {
      try {
        await issueReceipt(receiptDeps, requestId);
      } catch (error) {
        // As the Lambda adapter reports a failed invocation: one error the state machine retries.
        throw new ReceiptIssueError(`The receipt of ${requestId} was not issued`, { cause: error });
      }
    },
  };

  // The workflow functions, as Step Functions would invoke them.
  const workflowFunctions: Record<string, { name: string; handler: TaskFunction }> = {
    RequestTasksFunctionArn: {
      name: 'request-tasks',
      handler: requestTasks({
        ...stores,
        waitingPeriodSeconds: config.waitingPeriodSeconds,
        receipts,
        ...withCallbacks,
      }),
    },
    ReferralRockTasksFunctionArn: {
      name: 'referralrock-tasks',
      handler: referralRockTasks({ ...identityStores, cipher, referralRock }),
    },
    FirstPromoterTasksFunctionArn: {
      name: 'firstpromoter-tasks',
      handler: firstPromoterTasks({
        ...identityStores,
        cipher,
        firstPromoter,
        batchPoll: config.batchPoll,
        receipts,
        ...withCallbacks,
      }),
    },
  };
  const workflow = new LocalWorkflowEngine({
    functions: workflowFunctions,
    logger,
    ...(options.onWorkflowEvent ? { onEvent: options.onWorkflowEvent } : {}),
    ...(options.retryIntervalOverrides
      ? { retryIntervalOverrides: options.retryIntervalOverrides }
      : config.localWorkflowRetryScale < 1
        ? { retryIntervalOverrides: scaledRetryIntervals(config.localWorkflowRetryScale) }
        : {}),
    ...(options.taskTimeoutMs ? { taskTimeoutMs: options.taskTimeoutMs } : {}),
    ...(options.waitTimeOverrides ? { waitTimeOverrides: options.waitTimeOverrides } : {}),
    maxConcurrent: config.maxConcurrentWorkflows,
    scheduleOf: async (requestId) => {
      const request = await stores.requests.get(requestId);
      return request && { dueAt: request.dueAt, receivedAt: request.receivedAt };
    },
  });

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
    evidence: evidence({ log, auditTokens }) as ApiFunction,
    'api-document': apiDocument({ document: loadApiDocument(), publicBaseUrl: config.publicBaseUrl }),
    console: consoleFiles({ files: loadStaticFiles() }) as ApiFunction,
  });
  apiUrl = api.url;
  // The request sweeper the stack schedules hourly: here at start and then every few minutes.
  const sweeper = requestSweeper({
    ...stores,
    workflow,
    firstPromoter,
    receipts,
    ...withCallbacks,
    metrics: new Metrics({ serviceName: SERVICE_NAME, namespace: 'GdprErasureLocal' }),
    stalledAfterSeconds: 300,
  });
  const sweep = () => sweeper({}, lambdaContext('request-sweeper', 120_000)) as Promise<Record<string, number>>;
  const sweepEveryMs = options.sweepIntervalMs ?? 300_000;
  // Sweeps under way: a stop lets them end before it closes DynamoDB under them.
  const sweeps = new Set<Promise<unknown>>();
  const sweepInBackground = () => {
    const run: Promise<unknown> = sweep()
      .catch((error: unknown) => logger.warn('Sweep failed', describeError(error)))
      .finally(() => sweeps.delete(run));
    sweeps.add(run);
  };
  const sweepTimer = sweepEveryMs > 0 ? setInterval(sweepInBackground, sweepEveryMs) : undefined;
  sweepTimer?.unref();

  const resumed: string[] = [];
  const runtime: LocalRuntime = {
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
    workflow,
    callbacks: callbackEngine,
    stores,
    resumed,
    sweep,
    stop: async ({ crash = false } = {}) => {
      if (sweepTimer) clearInterval(sweepTimer);
      await api.stop();
      if (!crash) await Promise.allSettled([...sweeps]);
      if (crash) await workflow.abortAll();
      else await workflow.idle();
      // Callbacks still retrying (for up to a day) are not waited for; locally they end with the process.
      await callbackEngine?.abortAll();
      await started.stopAll();
    },
  };
  options.onListening?.(runtime);

  // Resume what a crash or stop left unfinished: every step is idempotent, so running it again is safe.
  if (options.resume ?? true) {
    for (const request of await stores.requests.listUnfinished()) {
      await workflow.start(request.id, { dueAt: request.dueAt, receivedAt: request.receivedAt });
      resumed.push(request.id);
    }
    if (resumed.length) logger.info('Resumed unfinished requests', { count: resumed.length, requestIds: resumed });
    // The first sweep runs while the service already serves: its scans take seconds under a backlog, and neither the
    // intake nor the resumed workflows depend on it (it starts only requests stalled for minutes).
    if (sweepEveryMs > 0) sweepInBackground();
  }
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

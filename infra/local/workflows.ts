import { join } from 'node:path';
import type { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { makeHandler as callbackDelivery } from '#functions/callback-delivery/handler';
import { makeHandler as firstPromoterTasks } from '#functions/firstpromoter-tasks/handler';
import { issueReceiptTask } from '#functions/receipt-issuer/handler';
import { makeHandler as referralRockTasks } from '#functions/referralrock-tasks/handler';
import { makeHandler as requestSweeper } from '#functions/request-sweeper/handler';
import { makeHandler as requestTasks } from '#functions/request-tasks/handler';
import { createWebhookSender } from '#shared/adapters/callbacks/webhook-sender';
import type { DynamoDBDocumentClient } from '#shared/adapters/dynamodb/document-client';
import { FileTreeHeadPublisher } from '#shared/adapters/publishing/file-tree-heads';
import { KeySigner } from '#shared/adapters/signing/key-signer';
import { type CallbackScheduler, callbackTarget } from '#shared/callbacks/delivery';
import {
  createAuditStores,
  createFirstPromoter,
  createIdentityCipher,
  createReferralRock,
  createTransparencyLog,
  receiptIssuerName,
} from '#shared/composition';
import { type Config, required } from '#shared/config';
import { publishTreeHead, type TreeHeadToPublish } from '#shared/domain/receipts';
import { ReceiptIssueError } from '#shared/errors';
import { describeError, SERVICE_NAME } from '#shared/observability';
import type { Clock } from '#shared/ports/audit';
import type { ReceiptIssuer } from '#shared/ports/evidence';
import { lambdaContext } from './lambda-context.ts';
import { PendingCallbacks } from './pending-callbacks.ts';
import {
  CALLBACK_ASL_PATH,
  type LocalWorkflowControl,
  LocalWorkflowEngine,
  RECEIPT_ASL_PATH,
  retrySpanMs,
  scaledRetryIntervals,
  syncWorkflow,
  type TaskFunction,
} from './workflow-engine.ts';

/** How the workflow side runs: test overrides, all of them data except the observer. */
export interface WorkflowSideOptions {
  /** Observer of every workflow execution event (state inputs/outputs); in-process only. */
  onWorkflowEvent?: (requestId: string, event: unknown) => void;
  retryIntervalOverrides?: Record<string, number | number[]>;
  waitTimeOverrides?: Record<string, number>;
  taskTimeoutMs?: number;
  /** How often the request sweeper runs (default 5 minutes; 0: never on its own). */
  sweepIntervalMs?: number;
}

/**
 * The workflow side of the local runtime as its callers hold it, in the same thread or from another: both state
 * machines, the receipt issuer and the request sweeper. `npm start` runs it in a thread of its own
 * (threads/workflow-thread.ts); tests run it in-process ({@link WorkflowSide}).
 */
export interface WorkflowSideControl {
  workflow: LocalWorkflowControl;
  /** The completion callbacks' state machine, when CALLBACK_URLS is set. */
  callbacks: LocalWorkflowControl | undefined;
  callbackScheduler: CallbackScheduler | undefined;
  /** The receipt state machine: the one place receipts are issued and tree heads published. */
  receipts: ReceiptIssuer;
  /** Runs the request sweeper once: stalled starts, pending promoter restores, overdue count. */
  sweep(): Promise<Record<string, number>>;
  /** Starts every unfinished request again, then sweeps once in the background; the ids started. */
  resume(): Promise<string[]>;
  /** Ends the sweeps and the executions: with `crash` aborted mid-way, as a killed process would leave them. */
  stop(options: { crash: boolean }): Promise<void>;
}

/** The workflow side built in this thread: its engines at hand (tests read their queues). */
export interface WorkflowSide extends WorkflowSideControl {
  workflow: LocalWorkflowEngine;
  callbacks: LocalWorkflowEngine | undefined;
}

/**
 * Builds the workflow side from the same handler factories and ASL files as the stack.
 * @param deps.apiUrl the API's address, read when a callback is sent (the API may listen only later)
 */
export function composeWorkflows(
  deps: {
    config: Readonly<Config>;
    db: DynamoDBDocumentClient;
    clock: Clock;
    dataDir: string;
    makeDeletionFinal: () => Promise<void>;
    logger: Logger;
    apiUrl: () => string | undefined;
  },
  options: WorkflowSideOptions,
): WorkflowSide {
  const { config, db, clock, logger, makeDeletionFinal } = deps;
  const stores = createAuditStores(config, db, clock, { makeDeletionFinal });
  // Only the provider task functions read identities, as in AWS.
  const identityStores = createAuditStores(config, db, clock, { makeDeletionFinal, readIdentity: true });
  const cipher = createIdentityCipher(config);
  // Completion callbacks run in a state machine of their own, as in AWS.
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
              clock,
              get publicBaseUrl() {
                return config.publicBaseUrl ?? deps.apiUrl() ?? '';
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
  // Written down before each start and removed when the execution ends by itself, so a restart resumes what a stop or
  // a crash cut off, as an execution in AWS carries on. Not removed while the side stops: those are the ones to resume.
  const pendingCallbacks = new PendingCallbacks(deps.dataDir);
  // How long an execution's delivery retries last (a day; shortened with the retries themselves).
  const callbackRetrySpanMs = callbackEngine
    ? retrySpanMs(CALLBACK_ASL_PATH, 'DeliverCallbacks', 'CallbackNotDeliveredError', config.localWorkflowRetryScale)
    : 0;
  let stopping = false;
  const runCallbacks = async (requestId: string, options: { resumed?: boolean } = {}) => {
    if (!callbackEngine) return;
    // A resumed execution starts its retries again from the first: it is told when its first run's retries ended
    // (from when its callbacks were written down), so a target still failing then is recorded failed, not retried for
    // another day after every restart.
    const scheduledAt = options.resumed ? await pendingCallbacks.scheduledAt(requestId) : undefined;
    const at = scheduledAt?.toISOString();
    await callbackEngine.start(
      requestId,
      scheduledAt && at
        ? {
            dueAt: at,
            receivedAt: at,
            input: { retriesEndAt: new Date(scheduledAt.getTime() + callbackRetrySpanMs).toISOString() },
          }
        : undefined,
    );
    void callbackEngine
      .settled(requestId)
      .then(() => (stopping ? undefined : pendingCallbacks.remove(requestId)))
      .catch((error: unknown) => logger.warn('Pending callback not cleared', { requestId, ...describeError(error) }));
  };
  const callbacks: CallbackScheduler | undefined = callbackEngine
    ? {
        schedule: async (requestId) => {
          await pendingCallbacks.add(requestId, clock.now());
          await runCallbacks(requestId);
        },
      }
    : undefined;
  const withCallbacks = callbacks ? { callbacks } : {};
  // The same shared rate budgets as in AWS: one item per provider account in DynamoDB.
  const referralRock = createReferralRock(config, db);
  const firstPromoter = createFirstPromoter(config, db);
  // Receipts: the same log table as in AWS; the key from the local secrets file instead of KMS; tree heads published
  // by the publisher's task to an append-only file under DATA_DIR instead of the Object Lock bucket.
  const receiptDeps = {
    ...stores,
    log: createTransparencyLog(config, db, clock),
    signer: new KeySigner(required(config.receipts.signingKey, 'RECEIPT_SIGNING_KEY')),
    issuer: receiptIssuerName(config),
  };
  const publisherDeps = {
    publisher: new FileTreeHeadPublisher(join(deps.dataDir, 'transparency-log', 'tree-heads.jsonl')),
  };
  // The receipt state machine, run synchronously as the functions that end requests run it in AWS; its Tasks, the
  // stack's receipt-issuer and tree-head-publisher functions, called in process with what each answers there.
  const runReceiptWorkflow = syncWorkflow(RECEIPT_ASL_PATH, {
    ReceiptIssuerFunctionArn: (event) => issueReceiptTask(receiptDeps, event.input as { requestId: string }),
    TreeHeadPublisherFunctionArn: (event) => publishTreeHead(publisherDeps, event.input as TreeHeadToPublish),
  });
  const receipts: ReceiptIssuer = {
    issue: async (requestId) => {
      // In process the issue runs within the caller's time budget, and its calls are aborted with it, so nothing of it
      // outlives a caller that gives up (a caller on another thread checks its budget before it calls here, as the
      // Step Functions adapter does: see receipt-time.ts).
      try {
        await runReceiptWorkflow({ requestId });
      } catch (error) {
        // As the Step Functions adapter reports a failed execution: one error the state machine retries.
        throw new ReceiptIssueError(`The receipt of ${requestId} was not issued`, {
          cause: (error as Error).cause ?? error,
        });
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
      handler: referralRockTasks({
        ...identityStores,
        cipher,
        referralRock,
        retryWindowSeconds: config.provider.retryWindowSeconds,
      }),
    },
    FirstPromoterTasksFunctionArn: {
      name: 'firstpromoter-tasks',
      handler: firstPromoterTasks({
        ...identityStores,
        cipher,
        firstPromoter,
        ...(config.pseudonymKey ? { pseudonymKey: config.pseudonymKey } : {}),
        batchPoll: config.batchPoll,
        retryWindowSeconds: config.provider.retryWindowSeconds,
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

  return {
    workflow,
    callbacks: callbackEngine,
    callbackScheduler: callbacks,
    receipts,
    sweep,
    resume: async () => {
      // Every step is idempotent, so running what a crash or stop left unfinished again is safe.
      const resumed: string[] = [];
      for (const request of await stores.requests.listUnfinished()) {
        await workflow.start(request.id, { dueAt: request.dueAt, receivedAt: request.receivedAt });
        resumed.push(request.id);
      }
      if (resumed.length) logger.info('Resumed unfinished requests', { count: resumed.length, requestIds: resumed });
      // Callbacks that had not ended when the service stopped: their retries start again from the first, and end
      // when their first run's would have.
      const callbacksResumed = callbackEngine ? await pendingCallbacks.list() : [];
      for (const requestId of callbacksResumed) await runCallbacks(requestId, { resumed: true });
      if (callbacksResumed.length) {
        logger.info('Resumed completion callbacks', { count: callbacksResumed.length, requestIds: callbacksResumed });
      }
      // The first sweep runs while the service already serves: its scans take seconds under a backlog, and neither the
      // intake nor the resumed workflows depend on it (it starts only requests stalled for minutes).
      if (sweepEveryMs > 0) sweepInBackground();
      return resumed;
    },
    stop: async ({ crash }) => {
      stopping = true;
      if (sweepTimer) clearInterval(sweepTimer);
      if (!crash) await Promise.allSettled([...sweeps]);
      if (crash) await workflow.abortAll();
      else await workflow.idle();
      // Callbacks still retrying (for up to a day) are not waited for: they stay written down and resume at the next
      // start (see PendingCallbacks).
      await callbackEngine?.abortAll();
    },
  };
}

import { DynamoAuditLog } from '#shared/adapters/dynamodb/audit-log';
import { DynamoRequestRepository } from '#shared/adapters/dynamodb/requests-repository';
import { createFirstPromoterClient } from '#shared/adapters/firstpromoter/client';
import { createDocumentClient } from '#shared/composition';
import { IdentityCipher } from '#shared/crypto/identity-cipher';
import { type RequestDeps, submitErasureRequest } from '#shared/domain/erasure-requests';
import { loadRequest } from '#shared/domain/workflow-tasks';
import type { Clock } from '#shared/ports/audit';
import type { FirstPromoterPort } from '#shared/ports/providers';
import { FirstPromoterSimulator } from '#test/simulators/firstpromoter';
import { startTestDynamo, type TestDynamo } from '#test/support/test-dynamo';

/** What the archive, restore and cancel race tests run the request use cases and workflow tasks against. */
export interface FirstPromoterWorld {
  dynamo: TestDynamo;
  sim: FirstPromoterSimulator;
  /** The real FirstPromoter client, against `sim`, its retries without pauses. */
  fp: FirstPromoterPort;
  /** The use cases' dependencies over these tables, `fp`, the test's clock and a workflow that does nothing. */
  deps: RequestDeps & { firstPromoter: FirstPromoterPort };
  /**
   * A promoter with `email` at the simulator, a request for it submitted (`webhookId`) and loaded by the workflow's
   * first task: the request in its waiting period (an hour), before the archive step. `taskDeps` are the workflow
   * tasks' dependencies (batches polled every second for up to a minute).
   */
  waitingRequest(email: string, webhookId: string): Promise<WaitingRequest>;
  stop(): Promise<void>;
}

export interface WaitingRequest {
  promoter: ReturnType<FirstPromoterSimulator['addPromoter']>;
  request: Awaited<ReturnType<typeof submitErasureRequest>>['request'];
  requestId: string;
  taskDeps: FirstPromoterWorld['deps'] & {
    waitingPeriodSeconds: number;
    batchPoll: { intervalSeconds: number; maxIntervalSeconds: number; timeoutSeconds: number };
  };
}

/** A workflow engine that starts, stops and finds running whatever it is asked: the test runs the tasks itself. */
export const idleWorkflow = {
  start: async () => undefined,
  stop: async () => undefined,
  ensureRunning: async () => 'running' as const,
};

/**
 * dynalite answered in this process (`startTestDynamo`) with the given tables, the FirstPromoter simulator on loopback
 * and the real client to it, and the request use cases' dependencies over them: fixed keys, 1,096 days' retention,
 * the identity readable (the workflow's tasks decrypt it). `clock` is the test's own, so it moves time as it needs.
 * `maxAttempts` (default 1) and `baseDelayMs` are the client's retry; its pauses are skipped.
 */
export async function startFirstPromoterWorld(options: {
  tables: { requests: string; auditEvents: string; identities: string };
  clock: Clock;
  maxAttempts?: number;
  baseDelayMs?: number;
}): Promise<FirstPromoterWorld> {
  const { tables, clock } = options;
  const dynamo = await startTestDynamo();
  await dynamo.ensureTables(tables);
  const db = createDocumentClient({ dynamoDbEndpoint: undefined }, dynamo.client);
  const sim = new FirstPromoterSimulator();
  const retry = {
    maxAttempts: options.maxAttempts ?? 1,
    ...(options.baseDelayMs === undefined ? {} : { baseDelayMs: options.baseDelayMs }),
  };
  const fp = createFirstPromoterClient(
    { baseUrl: await sim.start(), apiKey: 'demo-api-key', accountId: 'demo-account', retry },
    { sleep: async () => undefined },
  );
  const deps = {
    requests: new DynamoRequestRepository(db, tables, { readIdentity: true }),
    audit: new DynamoAuditLog(db, tables, { clock, retentionDays: 1096 }),
    workflow: idleWorkflow,
    clock,
    cipher: new IdentityCipher(Buffer.alloc(32, 7)),
    pseudonymKey: Buffer.alloc(32, 9),
    retentionDays: 1096,
    firstPromoter: fp,
  };
  const waitingRequest = async (email: string, webhookId: string): Promise<WaitingRequest> => {
    const promoter = sim.addPromoter({ email });
    const body = { email };
    const { request } = await submitErasureRequest(deps, { webhookId, document: body, body, signedWith: 'test' });
    const taskDeps = {
      ...deps,
      waitingPeriodSeconds: 3600,
      batchPoll: { intervalSeconds: 1, maxIntervalSeconds: 1, timeoutSeconds: 60 },
    };
    await loadRequest(taskDeps, { requestId: request.id });
    return { promoter, request, requestId: request.id, taskDeps };
  };
  return {
    dynamo,
    sim,
    fp,
    deps,
    waitingRequest,
    stop: async () => {
      await dynamo.stop();
      await sim.stop();
    },
  };
}

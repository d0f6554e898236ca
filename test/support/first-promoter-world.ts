import { DynamoAuditLog } from '#shared/adapters/dynamodb/audit-log';
import { DynamoRequestRepository } from '#shared/adapters/dynamodb/requests-repository';
import { createFirstPromoterClient } from '#shared/adapters/firstpromoter/client';
import { createDocumentClient } from '#shared/composition';
import { IdentityCipher } from '#shared/crypto/identity-cipher';
import type { RequestDeps } from '#shared/domain/erasure-requests';
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
  stop(): Promise<void>;
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
  return {
    dynamo,
    sim,
    fp,
    deps,
    stop: async () => {
      await dynamo.stop();
      await sim.stop();
    },
  };
}

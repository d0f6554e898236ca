import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalDynamo, startLocalDynamo } from '#infra/local/dynamodb';
import { DynamoAuditLog } from '#shared/adapters/dynamodb/audit-log';
import { DynamoRequestRepository } from '#shared/adapters/dynamodb/requests-repository';
import { createDocumentClient } from '#shared/composition';
import { IdentityCipher } from '#shared/crypto/identity-cipher';
import { type RequestDeps, submitErasureRequest } from '#shared/domain/erasure-requests';
import { beginErasure, finalizeRequest, loadRequest } from '#shared/domain/workflow-tasks';

/**
 * The end of a request and its completion callback: the local runtime resumes only requests not in a final status
 * and callbacks written down (`DATA_DIR/callbacks-pending/`), so a process killed between the final status and the
 * callback's start would lose the callback for good. Finalize starts the callback before the final status, as a
 * cancel does: killed before, the request is still `closing`, and its resumed workflow finishes both.
 */

const tables = { requests: 'end-requests', auditEvents: 'end-events', identities: 'end-identities' };
let dynamo: LocalDynamo;
let deps: RequestDeps;
const clock = { now: () => new Date('2026-06-01T10:00:00Z') };

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  await dynamo.ensureTables(tables);
  const db = createDocumentClient({ dynamoDbEndpoint: undefined }, dynamo.client);
  deps = {
    requests: new DynamoRequestRepository(db, tables),
    audit: new DynamoAuditLog(db, tables, { clock, retentionDays: 1096 }),
    workflow: { start: async () => undefined, stop: async () => undefined, ensureRunning: async () => 'running' },
    clock,
    cipher: new IdentityCipher(Buffer.alloc(32, 7)),
    pseudonymKey: Buffer.alloc(32, 9),
    retentionDays: 1096,
  };
});

afterAll(async () => {
  await dynamo.stop();
});

describe('finalize and the completion callback', () => {
  it('leaves the request unfinished when the process dies as the callback is started, and finishes both when resumed', async () => {
    const body = { email: 'ended.unannounced@example.com' };
    const { request } = await submitErasureRequest(deps, {
      webhookId: 'msg_end',
      document: body,
      body,
      signedWith: 't',
    });
    const stepDeps = { ...deps, waitingPeriodSeconds: 0 };
    await loadRequest(stepDeps, { requestId: request.id });
    await beginErasure(stepDeps, { requestId: request.id });

    const killed = {
      schedule: async () => {
        throw new Error('the process was killed here');
      },
    };
    await expect(finalizeRequest({ ...stepDeps, callbacks: killed }, { requestId: request.id })).rejects.toThrow(
      /killed/,
    );
    // Not final: a restart resumes it (`listUnfinished`), and its workflow's finalize starts the callback.
    expect((await deps.requests.get(request.id))?.status).toBe('closing');

    const scheduled: string[] = [];
    const resumed = {
      schedule: async (id: string) => {
        scheduled.push(id);
      },
    };
    const ended = await finalizeRequest({ ...stepDeps, callbacks: resumed }, { requestId: request.id });
    expect(scheduled).toEqual([request.id]);
    expect((await deps.requests.get(request.id))?.status).toBe(ended.status);
    expect((await deps.audit.list(request.id)).filter((e) => e.type === 'request.completed')).toHaveLength(1);
  });
});

import { describe, expect, it } from 'vitest';
import type { ErasureRequest } from '#shared/domain/model';
import { type SweepRequestOperations, sweepRequests } from '#shared/domain/sweep';
import type { AuditLog, WorkflowEngine } from '#shared/ports/audit';
import type { FirstPromoterPort } from '#shared/ports/providers';

/**
 * The sweep over unfinished requests: a request whose workflow cannot be checked or resumed (Step Functions refusing,
 * throttling) does not end the run before the others are seen to: their resumes, the stray identities, the counts.
 */

const now = new Date('2026-11-30T12:00:00Z');
const request = (id: string): ErasureRequest =>
  ({
    id,
    status: 'processing',
    receivedAt: '2026-11-30T10:00:00.000Z',
    dueAt: '2026-12-30T23:59:59.999Z',
    actions: {},
  }) as unknown as ErasureRequest;

describe('the request sweep', () => {
  it('goes on past a request whose workflow cannot be resumed, and reports it', async () => {
    const ensured: string[] = [];
    const workflow: WorkflowEngine = {
      start: async () => undefined,
      stop: async () => undefined,
      ensureRunning: async (id) => {
        ensured.push(id);
        if (id === 'er_a') throw Object.assign(new Error('Execution history event limit exceeded'), { name: 'X' });
        return 'redriven';
      },
    };
    let straysSwept = false;
    const requests = {
      listUnfinished: async () => [request('er_a'), request('er_b')],
      listPendingRestores: async () => [],
      destroyStrayIdentities: async () => {
        straysSwept = true;
        return [];
      },
    } as unknown as SweepRequestOperations;

    const report = await sweepRequests(
      {
        requests,
        audit: {} as AuditLog,
        clock: { now: () => now },
        workflow,
        firstPromoter: {} as FirstPromoterPort,
      },
      { stalledAfterSeconds: 300 },
    );

    expect(ensured).toEqual(['er_a', 'er_b']);
    expect(report).toMatchObject({ unfinished: 2, restartedIds: ['er_b'], resumeFailedIds: ['er_a'], stuckIds: [] });
    expect(straysSwept).toBe(true);
  });
});

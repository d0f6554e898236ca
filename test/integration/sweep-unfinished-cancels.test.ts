import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallbackScheduler } from '#shared/callbacks/delivery';
import { cancelErasureRequest, type RequestDeps } from '#shared/domain/erasure-requests';
import { sweepRequests } from '#shared/domain/sweep';
import { archivePromoters } from '#shared/domain/workflow-tasks';
import type { ReceiptIssuer } from '#shared/ports/evidence';
import type { FirstPromoterPort } from '#shared/ports/providers';
import { type FirstPromoterWorld, idleWorkflow, startFirstPromoterWorld } from '#test/support/first-promoter-world';

/**
 * Every cancel the sweep could not finish is in its report: the one whose receipt could not be issued (its trail
 * sealed, the request still `canceling`, alarmed), and the one that waits for an archive step that may still be
 * running (made again once the step's time has passed). Left out, a cancel that never gets its receipt was reported
 * by nothing but the overdue alarm, a month later.
 */

const tables = { requests: 'sweep-cancels', auditEvents: 'sweep-cancels-events', identities: 'sweep-cancels-ids' };
let world: FirstPromoterWorld;
let now = new Date('2026-06-01T10:00:00Z');
const clock = { now: () => now };
let deps: RequestDeps & { firstPromoter: FirstPromoterPort };

beforeAll(async () => {
  world = await startFirstPromoterWorld({ tables, clock });
  ({ deps } = world);
});

afterAll(() => world.stop());

const tick = (seconds: number) => {
  now = new Date(now.getTime() + seconds * 1000);
};

const sweep = (receipts?: ReceiptIssuer, callbacks?: CallbackScheduler) =>
  sweepRequests(
    { ...deps, workflow: idleWorkflow, ...(receipts ? { receipts } : {}), ...(callbacks ? { callbacks } : {}) },
    { stalledAfterSeconds: 300_000 },
  );

describe('the sweep’s report of the cancels it could not finish', () => {
  it('reports a cancel whose receipt cannot be issued, and ends it once the receipt is', async () => {
    const { requestId } = await world.waitingRequest('no.receipt@example.com', 'msg_no_receipt');
    const failing: ReceiptIssuer = {
      issue: async () => {
        throw new Error('KMS answered 503');
      },
    };
    const view = await cancelErasureRequest({ ...deps, receipts: failing }, requestId, 'operator:test');
    expect(view.status).toBe('canceling');
    expect(view.events.at(-1)?.type).toBe('request.canceled');

    tick(3600);
    const report = await sweep(failing);
    expect(report.receiptFailedIds).toEqual([requestId]);
    expect(report.restoredIds).not.toContain(requestId);

    tick(3600);
    const issued: string[] = [];
    const later = await sweep({ issue: async (id) => void issued.push(id) });
    expect(issued).toEqual([requestId]);
    expect(later.receiptFailedIds).toEqual([]);
    expect(later.restoredIds).toContain(requestId);
    expect((await deps.requests.get(requestId))?.status).toBe('canceled');
  });

  it('reports a cancel whose completion callbacks cannot be started as that, not as a failed restore', async () => {
    const { requestId } = await world.waitingRequest('no.callbacks@example.com', 'msg_no_callbacks');
    const failing: CallbackScheduler = {
      schedule: async () => {
        throw new Error('StartExecution answered 503');
      },
    };
    // The cancel is recorded and its trail sealed: the route answers it, not an error.
    const view = await cancelErasureRequest({ ...deps, callbacks: failing }, requestId, 'operator:test');
    expect(view.status).toBe('canceling');
    expect(view.events.at(-1)?.type).toBe('request.canceled');

    tick(3600);
    const report = await sweep(undefined, failing);
    expect(report.callbackFailedIds).toEqual([requestId]);
    expect(report.restoreFailedIds).not.toContain(requestId);

    tick(3600);
    const scheduled: string[] = [];
    const later = await sweep(undefined, { schedule: async (id) => void scheduled.push(id) });
    expect(scheduled).toEqual([requestId]);
    expect(later.callbackFailedIds).toEqual([]);
    expect((await deps.requests.get(requestId))?.status).toBe('canceled');
  });

  it('reports a cancel whose finishing threw, or that the run had no time for, as that, not as a failed restore', async () => {
    const { requestId } = await world.waitingRequest('store.down@example.com', 'msg_store_down');
    const noReceipt: ReceiptIssuer = {
      issue: async () => {
        throw new Error('KMS answered 503');
      },
    };
    expect((await cancelErasureRequest({ ...deps, receipts: noReceipt }, requestId, 'op:test')).status).toBe(
      'canceling',
    );

    tick(3600);
    // The audit table refusing (a store error): nothing of FirstPromoter failed, and nothing says it did.
    const audit = { ...deps.audit, append: async () => Promise.reject(new Error('DynamoDB answered 500')) };
    const broken = await sweepRequests({ ...deps, audit, workflow: idleWorkflow }, { stalledAfterSeconds: 300_000 });
    expect(broken.finishErrorIds).toContain(requestId);
    expect(broken.restoreFailedIds).not.toContain(requestId);

    // A run whose time is up leaves it for the next run: not tried, so not failed.
    const late = await sweepRequests(
      { ...deps, workflow: idleWorkflow },
      { stalledAfterSeconds: 300_000, restoreDeadline: Date.now() - 1 },
    );
    expect(late.deferredIds).toContain(requestId);
    expect(late.restoreFailedIds).not.toContain(requestId);

    const later = await sweep();
    expect(later.restoredIds).toContain(requestId);
    expect((await deps.requests.get(requestId))?.status).toBe('canceled');
  });

  it('reports a cancel that waits for an archive step still within its time, as waiting', async () => {
    const a = await world.waitingRequest('step.in.flight@example.com', 'msg_step_in_flight');
    // The step's plan, written before its archive call, which is still in flight (nothing recorded, not at rest).
    await deps.requests.planAction(a.requestId, 'firstpromoter.promoters', [a.promoter.id], now.toISOString(), {
      whileIn: ['received', 'waiting'],
    });
    tick(1);
    const view = await cancelErasureRequest(deps, a.requestId, 'operator:test');
    expect(view.status).toBe('canceling');

    tick(60);
    const report = await sweep();
    expect(report.restoreWaitingIds).toContain(a.requestId);
    expect(report.restoreFailedIds).not.toContain(a.requestId);

    // Past the step's time, the next run restores again and ends it.
    tick(3600);
    const later = await sweep();
    expect(later.restoredIds).toContain(a.requestId);
    expect((await deps.requests.get(a.requestId))?.status).toBe('canceled');
  });
});

describe('an archive try at rest after an earlier try left its call unanswered', () => {
  it('is not the step’s rest: a cancel waits the step’s time, as the earlier call may land after its restore', async () => {
    const a = await world.waitingRequest('earlier.call@example.com', 'msg_earlier_call');
    // The first try wrote its plan and sent its archive call, which went unanswered: FirstPromoter may still act on it.
    await deps.requests.planAction(a.requestId, 'firstpromoter.promoters', [a.promoter.id], now.toISOString(), {
      whileIn: ['received', 'waiting'],
    });
    tick(30);
    // The next try's own call is answered (an error): nothing of this try is left in flight.
    const fp = a.taskDeps.firstPromoter;
    const refused = {
      ...a.taskDeps,
      firstPromoter: {
        ...fp,
        findPromoters: (...args: Parameters<typeof fp.findPromoters>) => fp.findPromoters(...args),
        archivePromoters: async () => Promise.reject(new Error('FirstPromoter answered 422')),
      },
    };
    await expect(archivePromoters(refused, { requestId: a.requestId })).rejects.toThrow(/422/);
    expect((await deps.requests.get(a.requestId))?.archiveIdleSince).toBeUndefined();

    tick(1);
    const view = await cancelErasureRequest(deps, a.requestId, 'operator:test');
    expect(view.status).toBe('canceling');
  });
});

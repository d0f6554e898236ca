import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancelErasureRequest, type RequestDeps, submitErasureRequest } from '#shared/domain/erasure-requests';
import { sweepRequests } from '#shared/domain/sweep';
import { archivePromoters, loadRequest } from '#shared/domain/workflow-tasks';
import type { FirstPromoterPort } from '#shared/ports/providers';
import type { FirstPromoterSimulator } from '#test/simulators/firstpromoter';
import { type FirstPromoterWorld, startFirstPromoterWorld } from '#test/support/first-promoter-world';

/**
 * The archive step's second search (made when a request of the person was canceled: its restore may have landed after
 * the first search) is judged against the holders read before it. A third request of the person that archived the
 * promoter between that read and the second search was not among them: the step took the promoter for one archived
 * before its request, planned nothing of it and recorded `skipped`, so a cancel of the third request restored it and
 * the erasure completed over an active promoter.
 */

const tables = { requests: 'third-requests', auditEvents: 'third-events', identities: 'third-identities' };
let world: FirstPromoterWorld;
let sim: FirstPromoterSimulator;
let fp: FirstPromoterPort;
const clock = { now: () => new Date('2026-06-01T10:00:00Z') };
let deps: RequestDeps & { firstPromoter: FirstPromoterPort };

beforeAll(async () => {
  world = await startFirstPromoterWorld({ tables, clock });
  ({ sim, fp, deps } = world);
});

afterAll(() => world.stop());

describe('a third request of the person archiving between the archive step’s holders and its second search', () => {
  it('is counted as a holder, so the promoter is held and not taken for one archived before the request', async () => {
    const email = 'three.asks@example.com';
    const promoter = sim.addPromoter({ email });
    const archivedAt = () => sim.promoters().find((p) => p.id === promoter.id)?.archived_at;
    const taskDeps = {
      ...deps,
      waitingPeriodSeconds: 3600,
      batchPoll: { intervalSeconds: 1, maxIntervalSeconds: 1, timeoutSeconds: 60 },
    };
    const submit = async (webhookId: string) => {
      const body = { email };
      const { request } = await submitErasureRequest(deps, { webhookId, document: body, body, signedWith: 't' });
      await loadRequest(taskDeps, { requestId: request.id });
      return request.id;
    };
    // The first request archives the promoter and is canceled; its restore fails, so the sweeper will finish it.
    const first = await submit('msg_three_first');
    await archivePromoters(taskDeps, { requestId: first });
    const down: FirstPromoterPort = {
      ...fp,
      restorePromoters: async () => {
        throw new Error('FirstPromoter unavailable');
      },
    };
    await cancelErasureRequest({ ...deps, firstPromoter: down }, first, 'auditor:first');
    const second = await submit('msg_three_second');

    // The second request's first search answers (archived) while the sweeper finishes the first cancel (restored);
    // its second search answers after a third request of the person archived the promoter as its own.
    let third: string | undefined;
    let searches = 0;
    const port: FirstPromoterPort = {
      ...fp,
      findPromoters: async (subject, options) => {
        searches++;
        if (searches === 2) {
          third = await submit('msg_three_third');
          await archivePromoters(taskDeps, { requestId: third });
        }
        const found = await fp.findPromoters(subject, options);
        if (searches === 1) await sweepRequests(deps, { stalledAfterSeconds: 300 });
        return found;
      },
      getBatch: (id) => fp.getBatch(id),
      archivePromoters: (ids) => fp.archivePromoters(ids),
      restorePromoters: (ids) => fp.restorePromoters(ids),
    };
    await archivePromoters({ ...taskDeps, firstPromoter: port }, { requestId: second });
    expect(searches).toBeGreaterThanOrEqual(2);
    expect((await deps.requests.get(first))?.status).toBe('canceled');
    expect(archivedAt()).not.toBeNull();

    // The third request is canceled: the second, which records the promoter archived, must still hold it.
    expect((await cancelErasureRequest(deps, third as string, 'auditor:third')).status).toBe('canceled');

    expect((await deps.requests.get(second))?.actions['firstpromoter.promoters']?.outcome).toMatch(/archived|skipped/);
    expect(archivedAt()).not.toBeNull();
  });
});

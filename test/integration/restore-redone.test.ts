import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RequestDeps, restoreArchivedPromoters } from '#shared/domain/erasure-requests';
import { archivePromoters } from '#shared/domain/workflow-tasks';
import type { FirstPromoterPort } from '#shared/ports/providers';
import type { FirstPromoterSimulator } from '#test/simulators/firstpromoter';
import { type FirstPromoterWorld, startFirstPromoterWorld } from '#test/support/first-promoter-world';

/**
 * A cancel's restore made again: the cancel stays `canceling` when its first restore went out while the archive step
 * could still land an archive after it, and the sweeper restores again later. When that later restore fails, the
 * record must say so: it used to keep the first attempt's `restored` (a failure never replaced a `restored`, so that
 * one finisher's failure would not hide another's success at the same time), while FirstPromoter held the promoter
 * archived again. Only a `restored` recorded since the failing attempt began (a concurrent success) is kept.
 */

const tables = { requests: 'redone-requests', auditEvents: 'redone-events', identities: 'redone-identities' };
let world: FirstPromoterWorld;
let sim: FirstPromoterSimulator;
let fp: FirstPromoterPort;
let now = new Date('2026-06-01T10:00:00Z');
const clock = { now: () => now };
let deps: RequestDeps & { firstPromoter: FirstPromoterPort };

beforeAll(async () => {
  world = await startFirstPromoterWorld({ tables, clock });
  ({ sim, fp, deps } = world);
});

afterAll(() => world.stop());

const tick = (seconds: number) => {
  now = new Date(now.getTime() + seconds * 1000);
};

/** A request whose archive step archived one promoter, then canceled: `canceling`, nothing restored yet. */
async function canceledWithArchivedPromoter(name: string) {
  const { promoter, request, taskDeps } = await world.waitingRequest(`${name}@example.com`, `msg_${name}`);
  await archivePromoters(taskDeps, { requestId: request.id });
  tick(1);
  await deps.requests.transition(request.id, ['waiting'], 'canceling', { canceledAt: now.toISOString() });
  const canceling = await deps.requests.get(request.id);
  if (!canceling) throw new Error('request missing');
  return { request: canceling, promoterId: promoter.id };
}

const failingRestore = (onRestore: () => Promise<void> = async () => undefined): FirstPromoterPort => ({
  ...fp,
  findPromoters: (s, o) => fp.findPromoters(s, o),
  getBatch: (id) => fp.getBatch(id),
  archivePromoters: (ids) => fp.archivePromoters(ids),
  restorePromoters: async () => {
    await onRestore();
    throw new Error('FirstPromoter answered 503');
  },
});

describe('a cancel’s restore made again, and failing', () => {
  it('replaces the earlier attempt’s `restored` with `failed` when the promoter was archived again since', async () => {
    const { request, promoterId } = await canceledWithArchivedPromoter('redone.failing');
    await restoreArchivedPromoters(deps, request, 'auditor:redone', [promoterId]);
    expect((await deps.requests.get(request.id))?.actions['firstpromoter.promoters']?.outcome).toBe('restored');
    // The archive step's call in flight at the cancel lands after that restore: FirstPromoter holds it archived again.
    await fp.archivePromoters([promoterId]);
    tick(900);

    // Made again by a later finisher (the sweeper), which reads the request first: it holds the first `restored`.
    const later = (await deps.requests.get(request.id)) ?? request;
    const again = restoreArchivedPromoters({ ...deps, firstPromoter: failingRestore() }, later, 'auditor:redone', [
      promoterId,
    ]);

    await expect(again).rejects.toThrow(/503/);
    expect(sim.promoters().find((p) => p.id === promoterId)?.archived_at).not.toBeNull();
    const recorded = (await deps.requests.get(request.id))?.actions['firstpromoter.promoters'];
    expect(recorded).toMatchObject({ outcome: 'failed' });
    const types = (await deps.audit.list(request.id)).map((e) => e.type);
    expect(types).toContain('promoters.restore_failed');
  });

  it('records in the trail a restore that succeeds after a failed one, so its last restore event is the success', async () => {
    const { request, promoterId } = await canceledWithArchivedPromoter('redone.recovering');
    const current = async () => (await deps.requests.get(request.id)) ?? request;
    await restoreArchivedPromoters(deps, request, 'auditor:redone', [promoterId]);
    await fp.archivePromoters([promoterId]);
    tick(900);
    await expect(
      restoreArchivedPromoters({ ...deps, firstPromoter: failingRestore() }, await current(), 'auditor:redone', [
        promoterId,
      ]),
    ).rejects.toThrow(/503/);
    tick(3600);

    const batch = await restoreArchivedPromoters(deps, await current(), 'auditor:redone', [promoterId]);

    expect(sim.promoters().find((p) => p.id === promoterId)?.archived_at).toBeNull();
    const recorded = (await deps.requests.get(request.id))?.actions['firstpromoter.promoters'];
    expect(recorded).toMatchObject({ outcome: 'restored', batchId: batch?.id });
    const restores = (await deps.audit.list(request.id)).filter((e) => e.type.startsWith('promoters.restore'));
    expect(restores.map((e) => e.type)).toEqual([
      'promoters.restored',
      'promoters.restore_failed',
      'promoters.restored',
    ]);
    expect(restores.at(-1)?.data).toMatchObject({ batchId: batch?.id });
  });

  it('records a failure after a restore made again, so the trail’s last restore event is that failure', async () => {
    const { request, promoterId } = await canceledWithArchivedPromoter('redone.twice');
    const current = async () => (await deps.requests.get(request.id)) ?? request;
    const down = { ...deps, firstPromoter: failingRestore() };
    await restoreArchivedPromoters(deps, await current(), 'auditor:redone', [promoterId]);
    await fp.archivePromoters([promoterId]);
    tick(900);
    await expect(restoreArchivedPromoters(down, await current(), 'auditor:redone', [promoterId])).rejects.toThrow();
    tick(3600);
    await restoreArchivedPromoters(deps, await current(), 'auditor:redone', [promoterId]);
    await fp.archivePromoters([promoterId]);
    tick(3600);

    await expect(restoreArchivedPromoters(down, await current(), 'auditor:redone', [promoterId])).rejects.toThrow();
    tick(3600);
    await expect(restoreArchivedPromoters(down, await current(), 'auditor:redone', [promoterId])).rejects.toThrow();

    expect((await current()).actions['firstpromoter.promoters']?.outcome).toBe('failed');
    const restores = (await deps.audit.list(request.id)).filter((e) => e.type.startsWith('promoters.restore'));
    // An outage retried hourly adds one event, not one per attempt.
    expect(restores.map((e) => e.type)).toEqual([
      'promoters.restored',
      'promoters.restore_failed',
      'promoters.restored',
      'promoters.restore_failed',
    ]);
  });

  it('keeps a `restored` that another finisher recorded while the failing attempt ran', async () => {
    const { request, promoterId } = await canceledWithArchivedPromoter('redone.concurrent');
    tick(900);
    // The sweeper's restore fails; meanwhile the cancel route's restore of the same cancel succeeds and is recorded.
    const concurrent = failingRestore(async () => {
      tick(1);
      await restoreArchivedPromoters(deps, request, 'auditor:redone', [promoterId]);
    });

    await expect(
      restoreArchivedPromoters({ ...deps, firstPromoter: concurrent }, request, 'auditor:redone', [promoterId]),
    ).rejects.toThrow(/503/);

    expect(sim.promoters().find((p) => p.id === promoterId)?.archived_at).toBeNull();
    expect((await deps.requests.get(request.id))?.actions['firstpromoter.promoters']?.outcome).toBe('restored');
  });
});

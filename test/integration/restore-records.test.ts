import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchNotFoundError } from '#shared/adapters/firstpromoter/client';
import {
  cancelErasureRequest,
  finishCancel,
  type RequestDeps,
  restoreArchivedPromoters,
  submitErasureRequest,
} from '#shared/domain/erasure-requests';
import { archivePromoters, loadRequest } from '#shared/domain/workflow-tasks';
import type { FirstPromoterPort } from '#shared/ports/providers';
import { type FirstPromoterWorld, startFirstPromoterWorld } from '#test/support/first-promoter-world';

/**
 * What a cancel's restore records, and its events, when restores are made again or by two finishers at once.
 *
 * A cancel's restore that restores nothing (every promoter is held by another request of the person, so it only
 * archives them again) sends no restore and so has no batch to name its event by. Its `promoters.restored`, and a
 * failure after it, must still each reach the trail: keyed by the cancel alone they were taken for an earlier event of
 * the same kind, and the trail's last word on the restore contradicted the record.
 */

const tables = { requests: 'restore-requests', auditEvents: 'restore-events', identities: 'restore-identities' };
let world: FirstPromoterWorld;
let fp: FirstPromoterPort;
let now = new Date('2026-06-01T10:00:00Z');
const clock = { now: () => now };
let deps: RequestDeps & { firstPromoter: FirstPromoterPort };

beforeAll(async () => {
  world = await startFirstPromoterWorld({ tables, clock });
  ({ fp, deps } = world);
});

afterAll(() => world.stop());

const tick = (seconds: number) => {
  now = new Date(now.getTime() + seconds * 1000);
};

/** FirstPromoter answering every archive and restore with a 503 (searches and polls still answered). */
const down = (): RequestDeps & { firstPromoter: FirstPromoterPort } => ({
  ...deps,
  firstPromoter: {
    ...fp,
    findPromoters: (s, o) => fp.findPromoters(s, o),
    getBatch: (id) => fp.getBatch(id),
    archivePromoters: async () => {
      throw new Error('FirstPromoter answered 503');
    },
    restorePromoters: async () => {
      throw new Error('FirstPromoter answered 503');
    },
  },
});

/**
 * FirstPromoter as a cancel's finisher sees it, `afterRestore` running once a restore has landed and before its answer
 * comes back: what the archive step does meanwhile. Bound one by one, as `down` is: the client's methods are on its
 * prototype.
 */
const answeringRestoresAfter = (afterRestore: () => Promise<void>): FirstPromoterPort => ({
  ...fp,
  findPromoters: (s, o) => fp.findPromoters(s, o),
  getBatch: (id) => fp.getBatch(id),
  archivePromoters: (ids) => fp.archivePromoters(ids),
  restorePromoters: async (ids) => {
    const restored = await fp.restorePromoters(ids);
    await afterRestore();
    return restored;
  },
});

/** A waiting request whose archive step archived the person's promoter, then canceled (`canceling`, nothing restored). */
async function archivedThenCanceled(email: string, webhookId: string) {
  const a = await world.waitingRequest(email, webhookId);
  await archivePromoters(a.taskDeps, { requestId: a.requestId });
  tick(1);
  await deps.requests.transition(a.requestId, ['waiting'], 'canceling', { canceledAt: now.toISOString() });
  const read = async () => {
    const request = await deps.requests.get(a.requestId);
    if (!request) throw new Error('request missing');
    return request;
  };
  return { a, read };
}

/**
 * The deps of a finisher of a cancel (the route, say) during whose first recorded `restored` `meanwhile` runs: another
 * finisher acting between this one's restore and its seal. The requests' operations are bound one by one, since the
 * repository's methods are on its prototype, out of a spread's reach.
 */
function finisherWith(meanwhile: () => Promise<unknown>): RequestDeps & { firstPromoter: FirstPromoterPort } {
  let ran = false;
  return {
    ...deps,
    requests: {
      ...deps.requests,
      get: (id: string) => deps.requests.get(id),
      findBySubject: (...args: Parameters<typeof deps.requests.findBySubject>) => deps.requests.findBySubject(...args),
      destroyIdentity: (...args: Parameters<typeof deps.requests.destroyIdentity>) =>
        deps.requests.destroyIdentity(...args),
      forgetProviderIds: (id: string) => deps.requests.forgetProviderIds(id),
      transition: (...args: Parameters<typeof deps.requests.transition>) => deps.requests.transition(...args),
      recordAction: async (...args: Parameters<typeof deps.requests.recordAction>) => {
        const recorded = await deps.requests.recordAction(...args);
        if (recorded && args[2].outcome === 'restored' && !ran) {
          ran = true;
          await meanwhile();
        }
        return recorded;
      },
    },
  };
}

/**
 * Request A archived the person's promoter and was canceled (`canceling`, nothing restored yet); request B of the same
 * person (same email, another webhook-id) then archived it too and holds it while it waits.
 */
async function canceledWhileAnotherHolds(name: string) {
  const email = `${name}@example.com`;
  const { a, read: current } = await archivedThenCanceled(email, `msg_${name}_a`);
  const body = { email };
  const { request: b } = await submitErasureRequest(deps, {
    webhookId: `msg_${name}_b`,
    document: body,
    body,
    signedWith: 'test',
  });
  await loadRequest(a.taskDeps, { requestId: b.id });
  const held = await archivePromoters(a.taskDeps, { requestId: b.id });
  expect(held).toMatchObject({ outcome: 'archived' });
  tick(1);
  return { current, promoterId: a.promoter.id };
}

const restoreEvents = async (id: string) =>
  (await deps.audit.list(id)).filter((e) => e.type.startsWith('promoters.restore')).map((e) => e.type);

describe('a cancel’s restore that restores nothing, every promoter being held by another request', () => {
  it('records a failure after it, though an earlier failure of the same cancel was recorded before it', async () => {
    const { current, promoterId } = await canceledWhileAnotherHolds('nothing.failing');
    const id = (await current()).id;
    // FirstPromoter down: the re-archive of the held promoter fails, and so the restore.
    await expect(restoreArchivedPromoters(down(), await current(), 'auditor:nothing', [promoterId])).rejects.toThrow();
    tick(3600);
    await restoreArchivedPromoters(deps, await current(), 'auditor:nothing', [promoterId]);
    expect((await current()).actions['firstpromoter.promoters']).toMatchObject({ outcome: 'restored', count: 0 });
    tick(3600);

    await expect(restoreArchivedPromoters(down(), await current(), 'auditor:nothing', [promoterId])).rejects.toThrow();

    expect((await current()).actions['firstpromoter.promoters']?.outcome).toBe('failed');
    expect(await restoreEvents(id)).toEqual([
      'promoters.restore_failed',
      'promoters.restored',
      'promoters.restore_failed',
    ]);
  });

  it('records it again after a failure, so the trail’s last word is the restore the record holds', async () => {
    const { current, promoterId } = await canceledWhileAnotherHolds('nothing.again');
    const id = (await current()).id;
    await restoreArchivedPromoters(deps, await current(), 'auditor:nothing', [promoterId]);
    tick(3600);
    await expect(restoreArchivedPromoters(down(), await current(), 'auditor:nothing', [promoterId])).rejects.toThrow();
    tick(3600);

    await restoreArchivedPromoters(deps, await current(), 'auditor:nothing', [promoterId]);
    // Made again without anything between: one event, not one per attempt.
    tick(3600);
    await restoreArchivedPromoters(deps, await current(), 'auditor:nothing', [promoterId]);

    expect((await current()).actions['firstpromoter.promoters']).toMatchObject({ outcome: 'restored', count: 0 });
    expect(world.sim.promoters().find((p) => p.id === promoterId)?.archived_at).not.toBeNull();
    expect(await restoreEvents(id)).toEqual(['promoters.restored', 'promoters.restore_failed', 'promoters.restored']);
  });
});

describe('two finishers of one cancel, one restore succeeding and the other failing', () => {
  /**
   * The cancel route (or the archive step ending its try) and a sweep finish the same cancel: the sweep read the
   * request before the other's restore was recorded, and its own restore fails after that. Its failure is not about a
   * `restored` it never saw (one it would be making again): it must not replace it, or the trail sealed a moment
   * later by the successful finisher ends the request `canceled` with a failed restore FirstPromoter never had.
   */
  it('keeps the `restored` the other finisher recorded after the failing one read the request', async () => {
    const { a, read } = await archivedThenCanceled('finishers@example.com', 'msg_finishers');
    const sweepersRead = await read();
    let sweepFailed: Promise<unknown> | undefined;
    const route = finisherWith(async () => {
      // The sweep's restore, begun after this one was recorded, fails before the route seals the trail.
      tick(1);
      sweepFailed = restoreArchivedPromoters(down(), sweepersRead, 'sweeper', [a.promoter.id]).catch(
        (error: unknown) => error,
      );
      await sweepFailed;
    });

    const { restore } = await finishCancel(route, await read(), { stopWorkflow: false });

    expect(restore).toBe('done');
    expect(await sweepFailed).toBeInstanceOf(Error);
    const ended = await read();
    expect(ended.status).toBe('canceled');
    expect(world.sim.promoters().find((p) => p.id === a.promoter.id)?.archived_at).toBeNull();
    expect(ended.actions['firstpromoter.promoters']?.outcome).toBe('restored');
    expect(await restoreEvents(a.requestId)).toEqual(['promoters.restored']);
  });
});

describe('a cancel whose archive step comes to rest while its restore is in flight', () => {
  /**
   * The archive step planned and sent its archive call; the cancel came and restored; the archive call landed after
   * that restore (FirstPromoter archived the promoter again) and the step's try ended at rest (`archiveIdleSince`)
   * before the cancel checked it. The restore was sent before the step came to rest, so it does not hold: the cancel
   * must not seal its trail on it (the step's own finisher, or the sweeper, restores again), or the request ends
   * `canceled` with `restored` while FirstPromoter holds the promoter archived.
   */
  it('ends only on a restore sent after the step came to rest', async () => {
    const a = await world.waitingRequest('in.flight@example.com', 'msg_in_flight');
    const promoterId = a.promoter.id;
    // The step's plan, written before its archive call (which is in flight from here).
    await deps.requests.planAction(a.requestId, 'firstpromoter.promoters', [promoterId], now.toISOString(), {
      whileIn: ['received', 'waiting'],
    });
    tick(1);
    const route = {
      ...deps,
      firstPromoter: answeringRestoresAfter(async () => {
        tick(1);
        await fp.archivePromoters([promoterId]); // the step's archive call lands after the restore
        tick(1);
        await deps.requests.markArchiveIdle(a.requestId, now.toISOString(), ['received', 'waiting', 'canceling']);
        tick(1);
      }),
    };

    await cancelErasureRequest(route, a.requestId, 'operator:test');

    const read = async () => (await deps.requests.get(a.requestId))?.status;
    const archived = () => world.sim.promoters().find((p) => p.id === promoterId)?.archived_at !== null;
    expect(archived()).toBe(true);
    expect(await read()).toBe('canceling');

    // The sweeper's next run (the step's own finisher may have failed): it restores again, then ends the cancel.
    tick(3600);
    const canceling = await deps.requests.get(a.requestId);
    if (!canceling) throw new Error('request missing');
    expect(await finishCancel(deps, canceling, { stopWorkflow: false })).toMatchObject({ restore: 'done' });
    expect(await read()).toBe('canceled');
    expect(archived()).toBe(false);
  });
});

describe('a cancel’s restore and the archive step’s rest on two Lambdas’ clocks', () => {
  /**
   * The step came to rest after the route's restore was sent, its archive landing after that restore; but the step's
   * clock runs 300 ms behind the route's, so its `archiveIdleSince` reads 100 ms before the restore's time. Compared as
   * they were, the route took the step for at rest before its restore and sealed the trail: canceled, `restored`,
   * while FirstPromoter held the promoter archived.
   */
  it('does not end the cancel on a restore sent within the clocks’ difference of the step’s rest', async () => {
    const a = await world.waitingRequest('skewed.clocks@example.com', 'msg_skewed_clocks');
    const promoterId = a.promoter.id;
    await deps.requests.planAction(a.requestId, 'firstpromoter.promoters', [promoterId], now.toISOString(), {
      whileIn: ['received', 'waiting'],
    });
    tick(1);
    const restoreBegan = now.getTime();
    const route = {
      ...deps,
      firstPromoter: answeringRestoresAfter(async () => {
        await fp.archivePromoters([promoterId]); // the step's archive call lands after the restore
        const stepClock = new Date(restoreBegan - 100).toISOString(); // at rest after it, by a clock 300 ms behind
        await deps.requests.markArchiveIdle(a.requestId, stepClock, ['received', 'waiting', 'canceling']);
        tick(1);
      }),
    };

    await cancelErasureRequest(route, a.requestId, 'operator:test');

    expect(world.sim.promoters().find((p) => p.id === promoterId)?.archived_at).not.toBeNull();
    expect((await deps.requests.get(a.requestId))?.status).toBe('canceling');
    // The sweeper's next run restores again, clearly after the step's rest, and ends the cancel.
    tick(3600);
    const canceling = await deps.requests.get(a.requestId);
    if (!canceling) throw new Error('request missing');
    expect(await finishCancel(deps, canceling, { stopWorkflow: false })).toMatchObject({ restore: 'done' });
    expect(world.sim.promoters().find((p) => p.id === promoterId)?.archived_at).toBeNull();
  });
});

describe('a finisher of a cancel, another finisher’s restore failing after its own landed', () => {
  /**
   * The route's restore lands and is recorded; a sweep then reads that `restored`, cannot confirm its batch
   * (FirstPromoter no longer knows it), makes the restore again and fails: its `failed` replaces the `restored` it read.
   * The route, about to seal, must not end the cancel on a failed restore: `canceled` is final, and the record would
   * say the restore failed (retried hourly, which it no longer is) while FirstPromoter holds the promoter active.
   */
  it('leaves the cancel unfinished, and the sweeper ends it on a restore', async () => {
    const { a, read } = await archivedThenCanceled('seal.on.failed@example.com', 'msg_seal_on_failed');
    const forgetful = down();
    forgetful.firstPromoter.getBatch = async (id) => {
      throw new BatchNotFoundError(id);
    };
    let sweep: Awaited<ReturnType<typeof finishCancel>> | undefined;
    const route = finisherWith(async () => {
      tick(1);
      sweep = await finishCancel(forgetful, await read(), { stopWorkflow: false });
    });

    const { restore } = await finishCancel(route, await read(), { stopWorkflow: false });

    expect(sweep?.restore).toBe('failed');
    expect(world.sim.promoters().find((p) => p.id === a.promoter.id)?.archived_at).toBeNull();
    expect(restore).toBe('failed');
    expect((await read()).status).toBe('canceling');
    tick(3600);
    expect(await finishCancel(deps, await read(), { stopWorkflow: false })).toMatchObject({ restore: 'done' });
    const ended = await read();
    expect(ended.status).toBe('canceled');
    expect(ended.actions['firstpromoter.promoters']?.outcome).toBe('restored');
  });
});

describe('a restore sent in fives whose second call fails', () => {
  /**
   * Ten promoters are restored five a call: the first call restores five, the second fails. The failure recorded all
   * ten as still to restore (and its event counted ten) while FirstPromoter held five active again: as every `failed`
   * count, it must say what is still to restore, and that some were restored before it failed.
   */
  it('records what is still to restore, not the five the first call restored', async () => {
    const email = 'restore.in.fives@example.com';
    const a = await world.waitingRequest(email, 'msg_restore_in_fives');
    const ids = [a.promoter.id, ...Array.from({ length: 9 }, () => world.sim.addPromoter({ email }).id)];
    await fp.archivePromoters(ids.slice(0, 5));
    await fp.archivePromoters(ids.slice(5));
    await deps.requests.transition(a.requestId, ['waiting'], 'canceling', { canceledAt: now.toISOString() });
    const request = await deps.requests.get(a.requestId);
    if (!request) throw new Error('request missing');
    let calls = 0;
    const secondFails = {
      ...deps,
      firstPromoter: {
        ...fp,
        restorePromoters: async (chunk: readonly number[]) => {
          calls += 1;
          if (calls === 2) throw new Error('FirstPromoter answered 503');
          return fp.restorePromoters(chunk);
        },
      },
    };

    await expect(restoreArchivedPromoters(secondFails, request, 'operator:fives', ids)).rejects.toThrow();

    const active = world.sim.promoters().filter((p) => ids.includes(p.id) && p.archived_at === null);
    expect(active).toHaveLength(5);
    const record = (await deps.requests.get(a.requestId))?.actions['firstpromoter.promoters'];
    expect(record).toMatchObject({ outcome: 'failed', count: 5 });
    expect(record?.errors?.[0]).toContain('after 5 of 10 restored');
    const failed = (await deps.audit.list(a.requestId)).find((e) => e.type === 'promoters.restore_failed');
    expect(failed?.data).toMatchObject({ count: 5, restoredBeforeFailure: 5 });
  });

  it('does not count a promoter another request holds as still to restore', async () => {
    const { current, promoterId } = await canceledWhileAnotherHolds('held.not.to.restore');
    // A second promoter of this request's only, archived: the one to restore.
    const own = world.sim.addPromoter({ email: 'held.not.to.restore.own@example.com' }).id;
    await fp.archivePromoters([own]);

    await expect(
      restoreArchivedPromoters(down(), await current(), 'operator:held', [promoterId, own]),
    ).rejects.toThrow();

    // The held one stays archived on purpose: one still to restore, not two.
    expect((await current()).actions['firstpromoter.promoters']).toMatchObject({ outcome: 'failed', count: 1 });
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancelErasureRequest, type RequestDeps, submitErasureRequest } from '#shared/domain/erasure-requests';
import { sweepRequests } from '#shared/domain/sweep';
import { archivePromoters, loadRequest, settleFirstPromoterAction } from '#shared/domain/workflow-tasks';
import { ProviderUnavailableError } from '#shared/errors';
import type { Batch, FirstPromoterPort } from '#shared/ports/providers';
import { noteUnansweredCall } from '#shared/workflow/unanswered-calls';
import type { FirstPromoterSimulator } from '#test/simulators/firstpromoter';
import { type FirstPromoterWorld, startFirstPromoterWorld } from '#test/support/first-promoter-world';

/**
 * A cancel that lands while the archive step's call to FirstPromoter is in flight: the cancel's restore runs before
 * the archive does. Whatever happens after (the step restoring, or dying first), the promoter must end up restored.
 */

const tables = { requests: 'race-requests', auditEvents: 'race-events', identities: 'race-identities' };
let world: FirstPromoterWorld;
let sim: FirstPromoterSimulator;
let fp: FirstPromoterPort;
let now = new Date('2026-06-01T10:00:00Z');
const clock = { now: () => now };
let deps: RequestDeps & { firstPromoter: FirstPromoterPort };

beforeAll(async () => {
  world = await startFirstPromoterWorld({ tables, clock, maxAttempts: 2, baseDelayMs: 1 });
  ({ sim, fp, deps } = world);
});

afterAll(() => world.stop());

/** The real client, except that a cancel arrives while the archive call is in flight. */
function cancelDuringArchive(requestId: string): FirstPromoterPort {
  return {
    findReferrals: (s) => fp.findReferrals(s),
    deleteReferrals: (ids) => fp.deleteReferrals(ids),
    getBatch: (id) => fp.getBatch(id),
    listBatches: () => fp.listBatches(),
    findPromoters: (s) => fp.findPromoters(s),
    restorePromoters: (ids) => fp.restorePromoters(ids),
    archivePromoters: async (ids) => {
      await cancelErasureRequest(deps, requestId, 'auditor:race');
      return fp.archivePromoters(ids);
    },
  };
}

const waitingRequest = (email: string, webhookId: string) => world.waitingRequest(email, webhookId);

const archivedAt = (id: number) => sim.promoters().find((p) => p.id === id)?.archived_at;

describe('cancel racing the archive step', () => {
  it('ends with the promoter restored when the archive lands after the cancel restored', async () => {
    const { promoter, requestId, taskDeps } = await waitingRequest('race.one@example.com', 'msg_race_1');

    const result = await archivePromoters(
      { ...taskDeps, firstPromoter: cancelDuringArchive(requestId) },
      { requestId },
    );

    expect(result.outcome).toBe('restored');
    expect(archivedAt(promoter.id)).toBeNull();
    const stored = await deps.requests.get(requestId);
    expect(stored?.status).toBe('canceled');
    expect(stored?.identity).toBeUndefined();
    // The cancel ends the trail only once the restore after the late archive is done: nothing comes after it.
    const types = (await deps.audit.list(requestId)).map((e) => e.type);
    expect(types.at(-1)).toBe('request.canceled');
    expect(types.filter((t) => t === 'request.canceled')).toHaveLength(1);
  });

  it('archives nothing again after its own cancel restored, though the read-back finds the promoter active', async () => {
    const { promoter, requestId, taskDeps } = await waitingRequest('race.own@example.com', 'msg_race_own');
    // The archive lands; the cancel of this very request comes before the read-back and restores the promoter. Any
    // later archive call goes unanswered and lands only after the step ended, as a timed-out call can.
    let archiveCalls = 0;
    const late: number[][] = [];
    const port = portWith({
      archivePromoters: async (ids) => {
        if (++archiveCalls > 1) {
          late.push([...ids]);
          throw new Error('timeout of 10000ms exceeded');
        }
        const batch = await fp.archivePromoters(ids);
        await cancelErasureRequest(deps, requestId, 'auditor:race');
        return batch;
      },
    });

    const result = await archivePromoters({ ...taskDeps, firstPromoter: port }, { requestId });
    for (const ids of late) await fp.archivePromoters(ids);

    // The request says canceled and restored: FirstPromoter must hold the promoter active, also once late calls land.
    expect(archivedAt(promoter.id)).toBeNull();
    expect(archiveCalls).toBe(1);
    expect(result.outcome).toBe('restored');
    const stored = await deps.requests.get(requestId);
    expect(stored?.status).toBe('canceled');
    expect(stored?.actions['firstpromoter.promoters']).toMatchObject({ outcome: 'restored' });
  });

  it('does not end the cancel itself while an archive it sent is unanswered: it may land after the restore', async () => {
    const { promoter, requestId, taskDeps } = await waitingRequest('race.late@example.com', 'msg_race_late');
    // The archive lands, and is undone before the read-back (another request's cancel restoring it): the read-back
    // finds the promoter active while this request is open and archives it again; the cancel of this request comes
    // right then, and that call times out (as the transport notes it) and lands only after the step ended.
    const late: number[][] = [];
    let archiveCalls = 0;
    const port = portWith({
      archivePromoters: async (ids) => {
        if (++archiveCalls === 1) {
          const batch = await fp.archivePromoters(ids);
          await fp.restorePromoters(ids);
          return batch;
        }
        await cancelErasureRequest(deps, requestId, 'auditor:race');
        late.push([...ids]);
        noteUnansweredCall();
        throw new Error('timeout of 10000ms exceeded');
      },
    });

    // The unanswered archive ends the try with its error (the read-back judges nothing while it may land).
    await expect(archivePromoters({ ...taskDeps, firstPromoter: port }, { requestId })).rejects.toThrow(/timeout/);
    for (const ids of late) await fp.archivePromoters(ids);

    // Not canceled on the step's word: the late archive would stand under a canceled request.
    expect((await deps.requests.get(requestId))?.status).toBe('canceling');
    now = new Date(now.getTime() + 60 * 60_000);
    await sweepRequests(deps, { stalledAfterSeconds: 300 });
    expect((await deps.requests.get(requestId))?.status).toBe('canceled');
    expect(archivedAt(promoter.id)).toBeNull();
  });

  it('leaves the restore to the sweeper when the step cannot restore, and the sweeper restores it', async () => {
    const { promoter, requestId, taskDeps } = await waitingRequest('race.two@example.com', 'msg_race_2');
    // The cancel's restore (nothing archived yet) succeeds; the step's own restore after the archive fails twice.
    const racing = cancelDuringArchive(requestId);
    const failingRestore = {
      ...racing,
      restorePromoters: async (ids: readonly number[]) => {
        if (archivedAt(promoter.id) !== null)
          sim.harness.injectFault('POST /promoters/restore', { kind: 'status', status: 503 }, 2);
        return fp.restorePromoters(ids);
      },
    };

    await expect(archivePromoters({ ...taskDeps, firstPromoter: failingRestore }, { requestId })).rejects.toThrow(
      /promoters\.restore/,
    );
    expect(archivedAt(promoter.id)).not.toBeNull();
    expect((await deps.requests.get(requestId))?.status).toBe('canceling');
    expect((await deps.audit.list(requestId)).map((e) => e.type)).not.toContain('request.canceled');

    now = new Date(now.getTime() + 60 * 60_000);
    const report = await sweepRequests(deps, { stalledAfterSeconds: 300 });

    expect(report.restoredIds).toContain(requestId);
    expect(archivedAt(promoter.id)).toBeNull();
    const stored = await deps.requests.get(requestId);
    expect(stored?.status).toBe('canceled');
    expect(stored?.actions['firstpromoter.promoters']?.outcome).toBe('restored');
    expect((await deps.audit.list(requestId)).at(-1)?.type).toBe('request.canceled');
    expect(stored?.plans).toBeUndefined();
  });

  it('says so when it restores a promoter whose archive was planned but never recorded, as when it never landed', async () => {
    const { promoter, requestId, taskDeps } = await waitingRequest('race.four@example.com', 'msg_race_4');
    // The cancel arrives while the archive call is in flight, and that call never reaches FirstPromoter.
    const neverLands = {
      ...cancelDuringArchive(requestId),
      archivePromoters: async () => {
        await cancelErasureRequest(deps, requestId, 'auditor:race');
        throw new Error('socket hang up');
      },
    };

    await archivePromoters({ ...taskDeps, firstPromoter: neverLands }, { requestId }).catch(() => undefined);

    expect(archivedAt(promoter.id)).toBeNull();
    const action = (await deps.requests.get(requestId))?.actions['firstpromoter.promoters'];
    expect(action).toMatchObject({ outcome: 'restored', count: 1 });
    expect(action?.notes).toEqual([expect.stringMatching(/^1 of them had no archive recorded by this request/)]);
    const restored = (await deps.audit.list(requestId)).find((e) => e.type === 'promoters.restored');
    expect(restored?.data).toMatchObject({ count: 1, noArchiveRecorded: 1 });
  });

  it('plans and archives nothing once the request is canceled', async () => {
    const { promoter, requestId, taskDeps } = await waitingRequest('race.three@example.com', 'msg_race_3');
    await cancelErasureRequest(deps, requestId, 'auditor:race');
    const archiveCalls = sim.harness.requestsTo('POST /promoters/archive').length;

    const result = await archivePromoters({ ...taskDeps, firstPromoter: fp }, { requestId });

    expect(result.outcome).toBe('skipped');
    expect(archivedAt(promoter.id)).toBeNull();
    expect(sim.harness.requestsTo('POST /promoters/archive')).toHaveLength(archiveCalls);
  });
});

/** The real client with some of its operations replaced. */
function portWith(overrides: Partial<FirstPromoterPort>): FirstPromoterPort {
  return {
    findReferrals: (s) => fp.findReferrals(s),
    deleteReferrals: (ids) => fp.deleteReferrals(ids),
    getBatch: (id) => fp.getBatch(id),
    listBatches: () => fp.listBatches(),
    findPromoters: (s, o) => fp.findPromoters(s, o),
    archivePromoters: (ids) => fp.archivePromoters(ids),
    restorePromoters: (ids) => fp.restorePromoters(ids),
    ...overrides,
  };
}

/** A second request for a person already in the simulator (another webhook-id, same email), past its first step. */
async function anotherRequest(email: string, webhookId: string) {
  const body = { email };
  const { request } = await submitErasureRequest(deps, { webhookId, document: body, body, signedWith: 'test' });
  const taskDeps = {
    ...deps,
    waitingPeriodSeconds: 3600,
    batchPoll: { intervalSeconds: 1, maxIntervalSeconds: 1, timeoutSeconds: 60 },
  };
  await loadRequest(taskDeps, { requestId: request.id });
  return { requestId: request.id, taskDeps };
}

describe("a cancel's restore racing the archive step of another request of the same person", () => {
  it('records the archive as FirstPromoter holds it when the restore lands between that archive and its read-back', async () => {
    // A archived the promoter; B (same person) is about to archive it too when A is canceled.
    const a = await waitingRequest('race.shared@example.com', 'msg_race_shared_a');
    await archivePromoters(a.taskDeps, { requestId: a.requestId });
    const b = await anotherRequest('race.shared@example.com', 'msg_race_shared_b');
    now = new Date(now.getTime() + 1000);
    // A's cancel found no other holder and sends its restore. B plans and archives (a no-op: still archived); A's
    // restore lands right after that archive, before B's read-back; A then finds B's plan and archives it again.
    let restored: ReturnType<FirstPromoterPort['restorePromoters']> | undefined;
    const bPort = portWith({
      archivePromoters: async (ids) => {
        const batch = await fp.archivePromoters(ids);
        restored ??= fp.restorePromoters([a.promoter.id]);
        await restored;
        return batch;
      },
    });
    const aPort = portWith({
      restorePromoters: async () => {
        await archivePromoters({ ...b.taskDeps, firstPromoter: bPort }, { requestId: b.requestId });
        return restored as ReturnType<FirstPromoterPort['restorePromoters']>;
      },
    });

    await cancelErasureRequest({ ...deps, firstPromoter: aPort }, a.requestId, 'auditor:race');

    // FirstPromoter holds the promoter archived (B still needs it), and B's record says so.
    expect(archivedAt(a.promoter.id)).not.toBeNull();
    const bAction = (await deps.requests.get(b.requestId))?.actions['firstpromoter.promoters'];
    expect(bAction).toMatchObject({ outcome: 'archived', count: 1 });
    expect(bAction?.verification).toMatchObject({ stillFound: 0, outcome: 'archived' });
    const aStored = await deps.requests.get(a.requestId);
    expect(aStored?.status).toBe('canceled');
    expect(aStored?.actions['firstpromoter.promoters']).toMatchObject({ outcome: 'restored', count: 0 });
  });

  it("keeps a held promoter archived when the cancel's re-archive failed and the sweeper finishes the cancel", async () => {
    const a = await waitingRequest('race.held@example.com', 'msg_race_held_a');
    await archivePromoters(a.taskDeps, { requestId: a.requestId });
    const b = await anotherRequest('race.held@example.com', 'msg_race_held_b');
    now = new Date(now.getTime() + 1000);
    // A's cancel checks for holders before B plans; B archives and reads back before A's restore lands (B truly
    // recorded `archived`); A's re-archive for B then fails.
    const aPort = portWith({
      restorePromoters: async (ids) => {
        await archivePromoters(b.taskDeps, { requestId: b.requestId });
        const batch = await fp.restorePromoters(ids);
        sim.harness.injectFault('POST /promoters/archive', { kind: 'status', status: 503 }, 2);
        return batch;
      },
    });
    await cancelErasureRequest({ ...deps, firstPromoter: aPort }, a.requestId, 'auditor:race');
    expect((await deps.requests.get(a.requestId))?.status).toBe('canceling');
    expect((await deps.requests.get(b.requestId))?.actions['firstpromoter.promoters']?.outcome).toBe('archived');

    now = new Date(now.getTime() + 60 * 60_000);
    await sweepRequests(deps, { stalledAfterSeconds: 300 });

    // B holds it and says it is archived; A says it left it archived for B: FirstPromoter must hold it archived.
    expect((await deps.requests.get(a.requestId))?.status).toBe('canceled');
    expect((await deps.requests.get(a.requestId))?.actions['firstpromoter.promoters']?.notes).toEqual(
      expect.arrayContaining([expect.stringMatching(/left archived: another request of this person holds them/)]),
    );
    expect(archivedAt(a.promoter.id)).not.toBeNull();
  });
});

describe('a cancel while the archive step waits to try again', () => {
  const archiveFails = (fault: Parameters<typeof sim.harness.injectFault>[1]) =>
    // The client tries twice (retry.maxAttempts): both tries of the archive call fail the same way.
    sim.harness.injectFault('POST /promoters/archive', fault, 2);

  it('finishes at once when every request of the failed try was answered', async () => {
    const { promoter, requestId, taskDeps } = await waitingRequest('wait.answered@example.com', 'msg_wait_1');
    archiveFails({ kind: 'status', status: 503 });
    await expect(archivePromoters(taskDeps, { requestId })).rejects.toThrow(/promoters\.archive/);
    now = new Date(now.getTime() + 1000);

    await cancelErasureRequest(deps, requestId, 'auditor:wait');

    const stored = await deps.requests.get(requestId);
    expect(stored?.status).toBe('canceled');
    expect(stored?.actions['firstpromoter.promoters']).toMatchObject({ outcome: 'restored', count: 1 });
    expect(archivedAt(promoter.id)).toBeNull();
    expect((await deps.audit.list(requestId)).at(-1)?.type).toBe('request.canceled');
  });

  it('allows the step its time when a request of the try went unanswered (it may still land)', async () => {
    const { requestId, taskDeps } = await waitingRequest('wait.unanswered@example.com', 'msg_wait_2');
    archiveFails({ kind: 'reset' });
    await expect(archivePromoters(taskDeps, { requestId })).rejects.toThrow(/promoters\.archive/);
    now = new Date(now.getTime() + 1000);

    await cancelErasureRequest(deps, requestId, 'auditor:wait');

    expect((await deps.requests.get(requestId))?.status).toBe('canceling');
  });

  it("waits for the settle task's archive again too, which the step's rest does not cover", async () => {
    const { promoter, requestId, taskDeps } = await waitingRequest('wait.settle@example.com', 'msg_wait_settle');
    archiveFails({ kind: 'status', status: 503 });
    await expect(archivePromoters(taskDeps, { requestId })).rejects.toThrow(/promoters\.archive/);
    // The step is at rest (every call answered). The Catch's settle task finds the planned promoter active and
    // archives it again; the cancel comes while that call is out, which goes unanswered and lands only later.
    const late: number[][] = [];
    const settlePort = portWith({
      archivePromoters: async (ids) => {
        now = new Date(now.getTime() + 1000);
        await cancelErasureRequest(deps, requestId, 'auditor:wait');
        late.push([...ids]);
        noteUnansweredCall();
        throw new Error('timeout of 10000ms exceeded');
      },
    });
    await settleFirstPromoterAction(
      { ...taskDeps, firstPromoter: settlePort },
      { requestId, action: 'firstpromoter.promoters', error: { Error: 'ProviderUnavailableError' } },
    ).catch(() => undefined);
    for (const ids of late) await fp.archivePromoters(ids);

    expect(late).toHaveLength(1);
    // Not finished on the step's rest: the late archive would stand under a canceled request.
    expect((await deps.requests.get(requestId))?.status).toBe('canceling');
    now = new Date(now.getTime() + 60 * 60_000);
    await sweepRequests(deps, { stalledAfterSeconds: 300 });
    expect((await deps.requests.get(requestId))?.status).toBe('canceled');
    expect(archivedAt(promoter.id)).toBeNull();
  });

  it('is finished by the step itself when it came while the try was in flight and the try then failed', async () => {
    const { promoter, requestId, taskDeps } = await waitingRequest('wait.inflight@example.com', 'msg_wait_3');
    const cancelThenFail = portWith({
      archivePromoters: async (ids) => {
        await cancelErasureRequest(deps, requestId, 'auditor:wait');
        archiveFails({ kind: 'status', status: 503 });
        return fp.archivePromoters(ids);
      },
    });

    const result = await archivePromoters({ ...taskDeps, firstPromoter: cancelThenFail }, { requestId });

    expect(result.outcome).toBe('restored');
    expect((await deps.requests.get(requestId))?.status).toBe('canceled');
    expect(archivedAt(promoter.id)).toBeNull();
    expect((await deps.audit.list(requestId)).at(-1)?.type).toBe('request.canceled');
  });
});

describe('a read-back whose archive again goes unanswered (it may land later)', () => {
  /**
   * The archive lands; a restore (another request's cancel) lands before the read-back's search; the read-back's
   * archive again is left unanswered, as the transport leaves a try that timed out (noted in the step's ledger), and
   * lands only when the test says so.
   */
  function restoredThenUnanswered(late: number[][]): FirstPromoterPort {
    let archiveCalls = 0;
    return portWith({
      archivePromoters: async (ids) => {
        if (++archiveCalls > 1) {
          late.push([...ids]);
          noteUnansweredCall();
          throw new ProviderUnavailableError({
            provider: 'firstpromoter',
            operation: 'promoters.archive',
            networkCode: 'ETIMEDOUT',
          });
        }
        const batch = await fp.archivePromoters(ids);
        await fp.restorePromoters(ids);
        return batch;
      },
    });
  }

  it('judges nothing until it can no longer land, then records what FirstPromoter holds', async () => {
    const { promoter, requestId, taskDeps } = await waitingRequest('late.again@example.com', 'msg_late_again_1');
    const late: number[][] = [];

    await archivePromoters({ ...taskDeps, firstPromoter: restoredThenUnanswered(late) }, { requestId }).catch(
      () => undefined,
    );
    for (const ids of late) await fp.archivePromoters(ids);
    // The state machine's Catch: the settle task searches again.
    await settleFirstPromoterAction(taskDeps, {
      requestId,
      action: 'firstpromoter.promoters',
      error: { Error: 'ProviderUnavailableError' },
    });

    expect(late).toHaveLength(1);
    expect(archivedAt(promoter.id)).not.toBeNull();
    const action = (await deps.requests.get(requestId))?.actions['firstpromoter.promoters'];
    expect(action).toMatchObject({ outcome: 'archived', count: 1 });
  });

  it('keeps a cancel after it waiting for the step, as for any unanswered try', async () => {
    const { promoter, requestId, taskDeps } = await waitingRequest('late.cancel@example.com', 'msg_late_again_2');
    const late: number[][] = [];

    await archivePromoters({ ...taskDeps, firstPromoter: restoredThenUnanswered(late) }, { requestId }).catch(
      () => undefined,
    );
    now = new Date(now.getTime() + 1000);
    await cancelErasureRequest(deps, requestId, 'auditor:late');
    for (const ids of late) await fp.archivePromoters(ids);
    // Past the step's time, the sweeper restores what may have landed, and ends the cancel.
    now = new Date(now.getTime() + 60 * 60_000);
    await sweepRequests(deps, { stalledAfterSeconds: 300 });

    expect(late).toHaveLength(1);
    const stored = await deps.requests.get(requestId);
    expect(stored?.status).toBe('canceled');
    expect(archivedAt(promoter.id)).toBeNull();
  });
});

describe('a cancel while an archive batch still runs at FirstPromoter', () => {
  /**
   * Six promoters of one subject, archived and restored five a call. With `archiveRunsOn`, FirstPromoter misbehaves and
   * answers the archive step's first call with a batch that runs on (the defensive paths for such an answer).
   */
  async function sixPromoters(email: string, webhookId: string, { archiveRunsOn = false } = {}) {
    for (let i = 0; i < 5; i++) sim.addPromoter({ email });
    if (archiveRunsOn) sim.runOnNextCalls('promoter/archive');
    return waitingRequest(email, webhookId);
  }
  const archivedCount = (email: string) =>
    sim.promoters().filter((p) => p.email === email && p.archived_at !== null).length;
  /** FirstPromoter as it stands: reading a batch does not move it on (the simulator ends a batch at its second poll). */
  const observing = portWith({
    getBatch: async (id) => {
      const batch = sim.batches().find((b) => b.id === id);
      if (!batch) throw new Error(`no batch ${id}`);
      return batch;
    },
  });
  const observed = () => ({ ...deps, firstPromoter: observing });
  /** FirstPromoter runs a batch to its end (two polls in the simulator). */
  const runToEnd = async (batchId: number) => {
    for (let poll = 0; poll < 2; poll++) await fp.getBatch(batchId);
  };
  const running = (action: string) => sim.runningBatches().filter((b) => b.action === action);

  it('restores only once the archive batch ended, so the promoters are active under the canceled request', async () => {
    const email = 'batch.cancel@example.com';
    const { requestId, taskDeps } = await sixPromoters(email, 'msg_batch_1', { archiveRunsOn: true });
    expect((await archivePromoters(taskDeps, { requestId })).outcome).toBe('archived');
    const archiveBatch = (await deps.requests.get(requestId))?.actions['firstpromoter.promoters']?.batchId;
    expect(running('promoter/archive').map((b) => b.id)).toEqual([archiveBatch]);
    now = new Date(now.getTime() + 1000);

    const view = await cancelErasureRequest(observed(), requestId, 'operator:batch');
    // Nor the sweeper while it still runs.
    await sweepRequests(observed(), { stalledAfterSeconds: 300 });

    // A restore sent now would be undone when the archive batch completes.
    expect(view.status).toBe('canceling');
    expect(running('promoter/restore')).toEqual([]);
    expect((await deps.requests.get(requestId))?.status).toBe('canceling');
    expect(view.events.map((e) => e.type)).toContain('promoters.restore_waiting');

    await runToEnd(archiveBatch ?? 0);
    expect(archivedCount(email)).toBe(6);
    await sweepRequests(observed(), { stalledAfterSeconds: 300 });
    for (const batch of running('promoter/restore')) await runToEnd(batch.id);

    const stored = await deps.requests.get(requestId);
    expect(stored?.status).toBe('canceled');
    expect(stored?.actions['firstpromoter.promoters']).toMatchObject({ outcome: 'restored', count: 6 });
    expect(archivedCount(email)).toBe(0);
    expect((await deps.audit.list(requestId)).at(-1)?.type).toBe('request.canceled');
  });

  it('waits for the batch of an archive whose answer came after the cancel, which the step records under it', async () => {
    const email = 'batch.inflight@example.com';
    const { requestId, taskDeps } = await sixPromoters(email, 'msg_batch_2', { archiveRunsOn: true });
    // The cancel comes while the archive call is out; FirstPromoter answers it with a batch that runs on.
    let archiveBatch = 0;
    const port = portWith({
      getBatch: observing.getBatch,
      archivePromoters: async (ids) => {
        if (archiveBatch !== 0) return fp.archivePromoters(ids);
        await cancelErasureRequest(observed(), requestId, 'operator:batch');
        const batch = await fp.archivePromoters(ids);
        archiveBatch = batch.id;
        return batch;
      },
    });

    await archivePromoters({ ...taskDeps, firstPromoter: port }, { requestId });

    const stored = await deps.requests.get(requestId);
    expect(stored?.status).toBe('canceling');
    // Judged by the read-back as it stands: the five of the running batch still active (the request is no longer open,
    // so they are not archived again), under the batch's id, which the cancel's restore waits for.
    expect(stored?.actions['firstpromoter.promoters']).toMatchObject({ outcome: 'partial', batchId: archiveBatch });
    // The cancel's own restore went out before the archive (nothing archived then); none after it.
    const restoresBefore = sim.harness.requestsTo('POST /promoters/restore').length;
    for (const batch of running('promoter/restore')) await runToEnd(batch.id);
    await runToEnd(archiveBatch);
    expect(archivedCount(email)).toBe(6);

    await sweepRequests(observed(), { stalledAfterSeconds: 300 });
    for (const batch of running('promoter/restore')) await runToEnd(batch.id);

    // One restore of the six, five ids a call.
    expect(sim.harness.requestsTo('POST /promoters/restore').length).toBe(restoresBefore + 2);
    expect((await deps.requests.get(requestId))?.status).toBe('canceled');
    expect(archivedCount(email)).toBe(0);
  });

  it('ends the cancel only once a restore batch still running ended, and restores again after one that failed', async () => {
    const email = 'batch.restore.failed@example.com';
    const { requestId, taskDeps } = await sixPromoters(email, 'msg_batch_4');
    await archivePromoters(taskDeps, { requestId });
    const archiveBatch = (await deps.requests.get(requestId))?.actions['firstpromoter.promoters']?.batchId ?? 0;
    await runToEnd(archiveBatch);
    expect(archivedCount(email)).toBe(6);
    now = new Date(now.getTime() + 1000);
    // FirstPromoter answers the first restore call with a batch that runs on (as it does above 5 ids), which then ends
    // `failed`, restoring nothing; it answers every later call at once.
    const template = await observing.getBatch(archiveBatch);
    let runsOn: Batch | undefined;
    const port = portWith({
      getBatch: async (id) =>
        id === runsOn?.id ? { ...runsOn, status: 'failed', failed_count: runsOn.total } : observing.getBatch(id),
      restorePromoters: async (ids) => {
        if (runsOn) return fp.restorePromoters(ids);
        runsOn = { ...template, id: 99_001, status: 'pending', action_label: 'promoter/restore', total: ids.length };
        return runsOn;
      },
    });
    const withPort = { ...deps, firstPromoter: port };

    const view = await cancelErasureRequest(withPort, requestId, 'operator:batch');

    // Canceled now, the request would say its promoters are restored while FirstPromoter may still fail the restore.
    expect(view.status).toBe('canceling');
    expect(view.events.map((e) => e.type)).not.toContain('request.canceled');
    expect(archivedCount(email)).toBe(5);
    // The sweeper finds that batch failed, and restores again.
    await sweepRequests(withPort, { stalledAfterSeconds: 300 });

    const stored = await deps.requests.get(requestId);
    expect(stored?.status).toBe('canceled');
    expect(stored?.actions['firstpromoter.promoters']).toMatchObject({ outcome: 'restored', count: 6 });
    expect(archivedCount(email)).toBe(0);
    const types = (await deps.audit.list(requestId)).map((e) => e.type);
    expect(types.at(-1)).toBe('request.canceled');
    expect(types.filter((t) => t === 'request.canceled')).toHaveLength(1);
  });

  it('archives six five a call, and says of a call FirstPromoter answered failed what the search found', async () => {
    const email = 'batch.chunk.failed@example.com';
    const { requestId, taskDeps } = await sixPromoters(email, 'msg_batch_10');
    const stubborn = sim.promoters().filter((p) => p.email === email)[5]?.id;
    // Every call that carries the sixth promoter is answered `failed`, archiving nothing of it.
    let template: Batch | undefined;
    const port = portWith({
      archivePromoters: async (ids) => {
        const others = ids.filter((id) => id !== stubborn);
        template = others.length > 0 ? await fp.archivePromoters(others) : template;
        if (!template || others.length === ids.length) return template as Batch;
        return { ...template, status: 'failed', failed_count: 1, processing_errors: ['Batch process failed'] };
      },
    });

    const result = await archivePromoters({ ...taskDeps, firstPromoter: port }, { requestId });

    expect(result).toMatchObject({ outcome: 'partial', count: 5 });
    const action = (await deps.requests.get(requestId))?.actions['firstpromoter.promoters'];
    expect(action).toMatchObject({ outcome: 'partial', count: 5, verification: { stillFound: 1 } });
    expect(action?.errors).toEqual([
      '1 processing error(s) reported by FirstPromoter',
      '1 of 2 archive call(s) answered failed',
      '1 of 6 promoter(s) still active by a search afterwards',
    ]);
    expect(archivedCount(email)).toBe(5);
    expect(running('promoter/archive')).toEqual([]);
  });

  it('judges a settle by archives FirstPromoter ends at once, with no batch of more than 5 left running', async () => {
    const email = 'batch.settle@example.com';
    const { requestId, taskDeps } = await sixPromoters(email, 'msg_batch_5');
    // The archive step's call is refused (503, twice): nothing archived; the settle task judges by searching again.
    sim.harness.injectFault('POST /promoters/archive', { kind: 'status', status: 503 }, 2);
    await archivePromoters(taskDeps, { requestId }).catch(() => undefined);
    expect(archivedCount(email)).toBe(0);

    await settleFirstPromoterAction(taskDeps, {
      requestId,
      action: 'firstpromoter.promoters',
      error: { Error: 'ProviderUnavailableError' },
    });

    // The read-back's archive again of six would be a batch still running at its next search: judged failed, while
    // FirstPromoter archives them when it completes, under a record no cancel's wait would know of.
    expect(running('promoter/archive')).toEqual([]);
    expect(archivedCount(email)).toBe(6);
    expect((await deps.requests.get(requestId))?.actions['firstpromoter.promoters']).toMatchObject({
      outcome: 'archived',
      count: 6,
    });
  });

  it('restores six at once, so a request of the person that holds them meanwhile keeps them archived', async () => {
    const email = 'batch.held@example.com';
    const { requestId, taskDeps } = await sixPromoters(email, 'msg_batch_6');
    await archivePromoters(taskDeps, { requestId });
    await runToEnd((await deps.requests.get(requestId))?.actions['firstpromoter.promoters']?.batchId ?? 0);
    const { requestId: other } = await anotherRequest(email, 'msg_batch_6b');
    now = new Date(now.getTime() + 1000);
    // While the cancel restores, a second request of the person archives the six and holds them.
    let held = false;
    const port = portWith({
      getBatch: observing.getBatch,
      restorePromoters: async (ids) => {
        const batch = await fp.restorePromoters(ids);
        if (!held) {
          held = true;
          await archivePromoters(taskDeps, { requestId: other });
        }
        return batch;
      },
    });

    await cancelErasureRequest({ ...deps, firstPromoter: port }, requestId, 'operator:batch');
    // FirstPromoter keeps no order between batches: a restore batch still running may end after every archive.
    for (const batch of running('promoter/archive')) await runToEnd(batch.id);
    for (const batch of running('promoter/restore')) await runToEnd(batch.id);

    expect((await deps.requests.get(other))?.actions['firstpromoter.promoters']).toMatchObject({ outcome: 'archived' });
    expect(archivedCount(email)).toBe(6);
  });

  it('records a restore FirstPromoter answers partly failed as a failed restore, not as restored', async () => {
    const { promoter, requestId, taskDeps } = await waitingRequest('restore.partial@example.com', 'msg_batch_7');
    await archivePromoters(taskDeps, { requestId });
    const archiveBatch = (await deps.requests.get(requestId))?.actions['firstpromoter.promoters']?.batchId ?? 0;
    const template = await observing.getBatch(archiveBatch);
    now = new Date(now.getTime() + 1000);
    const partly = portWith({
      restorePromoters: async (ids) => ({
        ...template,
        id: 99_002,
        action_label: 'promoter/restore',
        total: ids.length,
        failed_count: ids.length,
        processing_errors: ['could not be restored'],
      }),
    });

    const view = await cancelErasureRequest({ ...deps, firstPromoter: partly }, requestId, 'operator:batch');

    expect(view.status).toBe('canceling');
    const action = (await deps.requests.get(requestId))?.actions['firstpromoter.promoters'];
    expect(action).toMatchObject({ outcome: 'failed' });
    expect(action?.errors?.[0]).toMatch(/restore batch 99002 ended completed \(1 failed\)/);
    expect(archivedAt(promoter.id)).not.toBeNull();
    await sweepRequests(deps, { stalledAfterSeconds: 300 });
    expect((await deps.requests.get(requestId))?.status).toBe('canceled');
    expect(archivedAt(promoter.id)).toBeNull();
  });

  it('does not take a try that failed after its archive batch was answered for one at rest', async () => {
    const email = 'batch.unrecorded@example.com';
    const { requestId, taskDeps } = await sixPromoters(email, 'msg_batch_8', { archiveRunsOn: true });
    // FirstPromoter answers the archive with its batch; the write of the outcome then fails (the store throttles).
    const requests = new Proxy(deps.requests, {
      get: (target, key) => {
        if (key === 'recordArchivedPromoters') {
          return async () => Promise.reject(new Error('ProvisionedThroughputExceededException'));
        }
        const value: unknown = Reflect.get(target, key);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    await expect(archivePromoters({ ...taskDeps, requests }, { requestId })).rejects.toThrow(/Throughput/);
    const [archiveBatch] = running('promoter/archive');
    now = new Date(now.getTime() + 1000);

    // The cancel comes during the step's retry wait: the batch no record names still runs at FirstPromoter.
    const view = await cancelErasureRequest(observed(), requestId, 'operator:batch');
    await runToEnd(archiveBatch?.id ?? 0);

    expect(view.status).toBe('canceling');
    now = new Date(now.getTime() + 60 * 60_000);
    await sweepRequests(observed(), { stalledAfterSeconds: 300 });
    expect((await deps.requests.get(requestId))?.status).toBe('canceled');
    expect(archivedCount(email)).toBe(0);
  });

  it('reports a cancel waiting for an archive batch, and past a day with the failing restores', async () => {
    const email = 'batch.stalled@example.com';
    const { requestId, taskDeps } = await sixPromoters(email, 'msg_batch_9', { archiveRunsOn: true });
    await archivePromoters(taskDeps, { requestId });
    const archiveBatch = (await deps.requests.get(requestId))?.actions['firstpromoter.promoters']?.batchId ?? 0;
    await cancelErasureRequest(observed(), requestId, 'operator:batch');

    now = new Date(now.getTime() + 60 * 60_000);
    const early = await sweepRequests(observed(), { stalledAfterSeconds: 300 });
    // FirstPromoter never finishes the batch: the cancel stays `canceling`, and after a day an operator is alarmed.
    now = new Date(now.getTime() + 24 * 60 * 60_000);
    const late = await sweepRequests(observed(), { stalledAfterSeconds: 300 });

    expect(early.restoreWaitingIds).toContain(requestId);
    expect(early.restoreFailedIds).not.toContain(requestId);
    expect(late.restoreWaitingIds).toContain(requestId);
    expect(late.restoreFailedIds).toContain(requestId);
    expect((await deps.requests.get(requestId))?.status).toBe('canceling');
    await runToEnd(archiveBatch);
    await sweepRequests(observed(), { stalledAfterSeconds: 300 });
    expect((await deps.requests.get(requestId))?.status).toBe('canceled');
    expect(archivedCount(email)).toBe(0);
  });

  it('stays canceling, and says why, when FirstPromoter cannot say whether the archive batch ended', async () => {
    const email = 'batch.unknown@example.com';
    const { requestId, taskDeps } = await sixPromoters(email, 'msg_batch_3', { archiveRunsOn: true });
    await archivePromoters(taskDeps, { requestId });
    const archiveBatch = (await deps.requests.get(requestId))?.actions['firstpromoter.promoters']?.batchId;
    const down = portWith({ getBatch: async () => Promise.reject(new Error('FirstPromoter batch.get: 503')) });

    const view = await cancelErasureRequest({ ...deps, firstPromoter: down }, requestId, 'operator:batch');

    expect(view.status).toBe('canceling');
    expect(running('promoter/restore')).toEqual([]);
    const action = (await deps.requests.get(requestId))?.actions['firstpromoter.promoters'];
    expect(action).toMatchObject({ outcome: 'failed', batchId: archiveBatch });
    expect(action?.errors?.[0]).toMatch(/^restore waits for archive batch \d+, which could not be polled/);

    await runToEnd(archiveBatch ?? 0);
    await sweepRequests(observed(), { stalledAfterSeconds: 300 });
    for (const batch of running('promoter/restore')) await runToEnd(batch.id);
    expect((await deps.requests.get(requestId))?.status).toBe('canceled');
    expect(archivedCount(email)).toBe(0);
  });
});

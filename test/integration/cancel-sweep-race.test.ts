import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancelErasureRequest, type RequestDeps, submitErasureRequest } from '#shared/domain/erasure-requests';
import type { ActionRecord } from '#shared/domain/model';
import { sweepRequests } from '#shared/domain/sweep';
import { archivePromoters, beginErasure, finalizeRequest, loadRequest } from '#shared/domain/workflow-tasks';
import type { FirstPromoterPort } from '#shared/ports/providers';
import type { FirstPromoterSimulator } from '#test/simulators/firstpromoter';
import { type FirstPromoterWorld, idleWorkflow, startFirstPromoterWorld } from '#test/support/first-promoter-world';

/**
 * The request sweeper finishing a cancel that the cancel route is still finishing (issue 12's closing note: "can
 * finish the same cancel twice"). Both run `finishCancel`; whichever seals the trail first decides what the trail and
 * the receipt say, and the other must write nothing to the request after that seal.
 */

const tables = { requests: 'twice-requests', auditEvents: 'twice-events', identities: 'twice-identities' };
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

/** A promise and its resolver: the test's hand on the moment each side goes on. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

describe('a cancel finished by the sweeper while the cancel route still runs', () => {
  it('writes nothing to the request once the sweeper sealed its trail', async () => {
    const { promoter, request, taskDeps } = await world.waitingRequest('twice.finished@example.com', 'msg_twice');
    await archivePromoters(taskDeps, { requestId: request.id });
    expect(sim.promoters().find((p) => p.id === promoter.id)?.archived_at).not.toBeNull();

    // The cancel route's restore is slow to answer; meanwhile the sweeper finishes the same cancel and, between its
    // seal and its final status, issues the receipt (what the receipt signs is the request as it is then).
    const routeRestoring = gate();
    const routeMayGoOn = gate();
    const slowRestore: FirstPromoterPort = {
      ...fp,
      findPromoters: (s, o) => fp.findPromoters(s, o),
      getBatch: (id) => fp.getBatch(id),
      archivePromoters: (ids) => fp.archivePromoters(ids),
      restorePromoters: async (ids) => {
        routeRestoring.open();
        await routeMayGoOn.opened;
        return fp.restorePromoters(ids);
      },
    };
    const route = cancelErasureRequest({ ...deps, firstPromoter: slowRestore }, request.id, 'auditor:twice');
    await routeRestoring.opened;

    let signed: ActionRecord | undefined;
    const receipts = {
      issue: async (id: string) => {
        signed = (await deps.requests.get(id))?.actions['firstpromoter.promoters'];
        // The route's restore answers now, and the route goes on to its end, while the sweeper is still issuing.
        routeMayGoOn.open();
        await route;
      },
    };
    const report = await sweepRequests({ ...deps, receipts }, { stalledAfterSeconds: 300 });
    const view = await route;

    expect(report.restoredIds).toContain(request.id);
    expect(view.status).toBe('canceled');
    expect(sim.promoters().find((p) => p.id === promoter.id)?.archived_at).toBeNull();
    const events = await deps.audit.list(request.id);
    expect(events.at(-1)?.type).toBe('request.canceled');
    expect(events.filter((e) => e.type === 'promoters.restored')).toHaveLength(1);
    // The record is what the trail and the receipt say: the restore recorded before the seal, not the one after it.
    const stored = await deps.requests.get(request.id);
    expect(signed).toMatchObject({ outcome: 'restored' });
    expect(stored?.actions['firstpromoter.promoters']).toEqual(signed);
    const restored = events.find((e) => e.type === 'promoters.restored');
    expect(stored?.actions['firstpromoter.promoters']?.batchId).toBe(restored?.data.batchId);
  });
});

describe('a sweep whose list of pending cancels is older than the requests', () => {
  it('sends no restore for a cancel that another finisher ended after the list was read', async () => {
    const { promoter, request, taskDeps } = await world.waitingRequest('listed.before@example.com', 'msg_listed');
    await archivePromoters(taskDeps, { requestId: request.id });

    // The cancel route's restore fails (FirstPromoter down for it), leaving the request `canceling` for the sweeper.
    const down: FirstPromoterPort = {
      ...fp,
      restorePromoters: async () => {
        throw new Error('FirstPromoter unavailable');
      },
    };
    expect((await cancelErasureRequest({ ...deps, firstPromoter: down }, request.id, 'auditor:listed')).status).toBe(
      'canceling',
    );

    // The sweep lists it; before it gets to it (a long list, each with provider calls), another finisher (an earlier
    // sweep still running, or the archive step) ends the cancel.
    const sweepRestores: number[][] = [];
    const counting: FirstPromoterPort = {
      ...fp,
      findPromoters: (s, o) => fp.findPromoters(s, o),
      getBatch: (id) => fp.getBatch(id),
      archivePromoters: (ids) => fp.archivePromoters(ids),
      restorePromoters: (ids) => {
        sweepRestores.push([...ids]);
        return fp.restorePromoters(ids);
      },
    };
    const listPendingRestores = async () => {
      const listed = await deps.requests.listPendingRestores();
      await sweepRequests(deps, { stalledAfterSeconds: 300 });
      return listed;
    };
    const requests = new Proxy(deps.requests, {
      get: (target, name) =>
        name === 'listPendingRestores' ? listPendingRestores : Reflect.get(target, name).bind(target),
    });
    const report = await sweepRequests({ ...deps, requests, firstPromoter: counting }, { stalledAfterSeconds: 300 });

    expect((await deps.requests.get(request.id))?.status).toBe('canceled');
    expect(sim.promoters().find((p) => p.id === promoter.id)?.archived_at).toBeNull();
    // Nothing is sent to FirstPromoter for a request that has ended, nor reported as restored by this sweep.
    expect(sweepRestores).toEqual([]);
    expect(report.restoredIds).not.toContain(request.id);
    expect(report.restoreFailedIds).not.toContain(request.id);
  });
});

describe('a cancel finished while another request of the person searches for its promoters', () => {
  it('does not take a promoter the cancel restored meanwhile for one archived before the request', async () => {
    const email = 'asked.again@example.com';
    const promoter = sim.addPromoter({ email });
    const archivedAt = () => sim.promoters().find((p) => p.id === promoter.id)?.archived_at;
    const submit = async (webhookId: string) => {
      const body = { email };
      const { request } = await submitErasureRequest(deps, { webhookId, document: body, body, signedWith: 't' });
      await loadRequest(taskDeps, { requestId: request.id });
      return request.id;
    };
    const taskDeps = {
      ...deps,
      waitingPeriodSeconds: 3600,
      batchPoll: { intervalSeconds: 1, maxIntervalSeconds: 1, timeoutSeconds: 60 },
    };
    // The person's first request archives the promoter and is canceled; FirstPromoter fails the cancel's restore, so
    // the cancel waits for the sweeper. Meanwhile the person asks again.
    const first = await submit('msg_first_ask');
    await archivePromoters(taskDeps, { requestId: first });
    const down: FirstPromoterPort = {
      ...fp,
      restorePromoters: async () => {
        throw new Error('FirstPromoter unavailable');
      },
    };
    await cancelErasureRequest({ ...deps, firstPromoter: down }, first, 'auditor:first');
    const second = await submit('msg_second_ask');

    // The second request's search answers (the promoter archived); the sweeper finishes the first cancel (restoring
    // it) before the second request looks at who else of the person holds it.
    let searches = 0;
    const port: FirstPromoterPort = {
      ...fp,
      findPromoters: async (subject, options) => {
        const found = await fp.findPromoters(subject, options);
        if (++searches === 1) await sweepRequests(deps, { stalledAfterSeconds: 300 });
        return found;
      },
      getBatch: (id) => fp.getBatch(id),
      archivePromoters: (ids) => fp.archivePromoters(ids),
      restorePromoters: (ids) => fp.restorePromoters(ids),
    };
    const result = await archivePromoters({ ...taskDeps, firstPromoter: port }, { requestId: second });

    expect((await deps.requests.get(first))?.status).toBe('canceled');
    // Whatever the second request records, FirstPromoter must hold it: an outcome that says the person's promoters are
    // archived (or were already) with the promoter active would let the erasure complete over it.
    expect(['archived', 'skipped']).toContain(result.outcome);
    expect(archivedAt()).not.toBeNull();
  });
});

describe('a cancel route whose workflow stop fails after the sweeper ended the cancel', () => {
  it('answers the canceled request, not an error, and adds nothing to the ended trail', async () => {
    const body = { email: 'stop.failed@example.com' };
    const { request } = await submitErasureRequest(deps, {
      webhookId: 'msg_stop_failed',
      document: body,
      body,
      signedWith: 't',
    });
    // The route's StopExecution is slow and then fails (throttled); meanwhile the sweeper finishes the cancel.
    const stopping = {
      ...idleWorkflow,
      stop: async () => {
        await sweepRequests(deps, { stalledAfterSeconds: 300 });
        throw new Error('ThrottlingException');
      },
    };

    const view = await cancelErasureRequest({ ...deps, workflow: stopping }, request.id, 'auditor:stop');

    expect(view.status).toBe('canceled');
    const events = await deps.audit.list(request.id);
    expect(events.at(-1)?.type).toBe('request.canceled');
    expect(events.map((e) => e.type)).not.toContain('workflow.stop_failed');
  });
});

describe('a cancel while another request of the person is being finalized', () => {
  it('leaves archived the promoters of a request whose ids its finalize has just forgotten', async () => {
    const email = 'finalized.meanwhile@example.com';
    const promoter = sim.addPromoter({ email });
    const taskDeps = {
      ...deps,
      waitingPeriodSeconds: 0,
      batchPoll: { intervalSeconds: 1, maxIntervalSeconds: 1, timeoutSeconds: 60 },
    };
    const submit = async (webhookId: string) => {
      const body = { email };
      const { request } = await submitErasureRequest(deps, { webhookId, document: body, body, signedWith: 't' });
      await loadRequest(taskDeps, { requestId: request.id });
      await archivePromoters(taskDeps, { requestId: request.id });
      return request.id;
    };
    // Two requests of the person: the first archived the promoter, the second holds it with it.
    const erasing = await submit('msg_erasing');
    const canceled = await submit('msg_canceled_meanwhile');
    await beginErasure(taskDeps, { requestId: erasing });

    // The first one's finalize has sealed its trail and forgotten its provider ids, and is issuing its receipt (a
    // state machine, a signature, a publication: seconds in AWS) when the second one is canceled.
    const receipts = {
      issue: async () => {
        expect((await cancelErasureRequest(deps, canceled, 'auditor:meanwhile')).status).toBe('canceled');
      },
    };
    const ended = await finalizeRequest({ ...taskDeps, receipts }, { requestId: erasing });

    // The erasure ends saying the promoter is archived: FirstPromoter must hold it archived.
    expect((await deps.requests.get(erasing))?.actions['firstpromoter.promoters']?.outcome).toBe('archived');
    expect(['completed', 'partially_completed', 'failed']).toContain(ended.status);
    expect(sim.promoters().find((p) => p.id === promoter.id)?.archived_at).not.toBeNull();
  });
});

describe('two requests of one person made under different identifiers', () => {
  it('keeps archived a promoter the one canceled archived, when the other took it for archived before it', async () => {
    // The promoter has both identifiers: a CRM asks by the customer id, a privacy form by the email.
    const promoter = sim.addPromoter({ email: 'two.doors@example.com', cust_id: 'cust-two-doors' });
    const taskDeps = {
      ...deps,
      waitingPeriodSeconds: 3600,
      batchPoll: { intervalSeconds: 1, maxIntervalSeconds: 1, timeoutSeconds: 60 },
    };
    const submit = async (webhookId: string, body: { email?: string; externalId?: string }) => {
      const { request } = await submitErasureRequest(deps, { webhookId, document: body, body, signedWith: 't' });
      await loadRequest(taskDeps, { requestId: request.id });
      await archivePromoters(taskDeps, { requestId: request.id });
      return request.id;
    };
    // The first archives it; the second finds it archived, held by no request of its identifier.
    const byId = await submit('msg_by_customer_id', { externalId: 'cust-two-doors' });
    const byEmail = await submit('msg_by_email', { email: 'two.doors@example.com' });
    expect((await deps.requests.get(byEmail))?.actions['firstpromoter.promoters']?.outcome).toMatch(/skipped|archived/);

    // The first one is canceled (a duplicate): its restore must not undo what the second records as archived.
    expect((await cancelErasureRequest(deps, byId, 'auditor:duplicate')).status).toBe('canceled');

    expect(sim.promoters().find((p) => p.id === promoter.id)?.archived_at).not.toBeNull();
    expect((await deps.requests.get(byId))?.actions['firstpromoter.promoters']).toMatchObject({
      outcome: 'restored',
      count: 0,
      notes: [expect.stringContaining('another request of this person holds them')],
    });
  });
});

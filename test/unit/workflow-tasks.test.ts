import { describe, expect, it } from 'vitest';
import { IdentityCipher } from '#shared/crypto/identity-cipher';
import {
  type ActionKey,
  type ActionRecord,
  type AuditEvent,
  type ErasureRequest,
  type NewAuditEvent,
  SEALING_EVENTS,
} from '#shared/domain/model';
import { archivePromoters, finalizeRequest, pollFirstPromoterBatch } from '#shared/domain/workflow-tasks';
import { AuditTrailSealedError, ReceiptIssueError } from '#shared/errors';
import type { ActionGuard, AuditLog, RequestRepository } from '#shared/ports/audit';
import type { Batch, FirstPromoterPort } from '#shared/ports/providers';

/** Workflow steps with in-memory ports: the poll schedule and the final status rule. */

class MemoryRequests
  implements
    Pick<
      RequestRepository,
      | 'get'
      | 'recordAction'
      | 'transition'
      | 'destroyIdentity'
      | 'forgetProviderIds'
      | 'planAction'
      | 'recordArchivedPromoters'
    >
{
  readonly items = new Map<string, ErasureRequest>();
  readonly audit: MemoryAudit;
  constructor(audit: MemoryAudit) {
    this.audit = audit;
  }
  /** Appends a write's events as the DynamoDB repository does, in the same (here: synchronous) step. */
  async #append(id: string, events: readonly NewAuditEvent[] = []) {
    const links = [];
    for (const event of events) links.push(await this.audit.append(id, event));
    return links;
  }
  async planAction<T extends string | number>(
    id: string,
    key: ActionKey,
    ids: readonly T[],
    at: string,
    guard: ActionGuard,
  ) {
    const item = this.items.get(id) as ErasureRequest;
    if (!guard.whileIn.includes(item.status)) return undefined;
    const existing = item.plans?.[key];
    if (existing) return { ids: existing.ids as T[], at: existing.at, created: false };
    item.plans = { ...item.plans, [key]: { ids: [...ids], at } };
    return { ids: [...ids], at, created: true };
  }
  async recordArchivedPromoters(
    id: string,
    promoterIds: readonly number[],
    record: ActionRecord,
    whileIn: readonly string[],
    options: { events?: readonly NewAuditEvent[] } = {},
  ) {
    const item = this.items.get(id) as ErasureRequest;
    if (!whileIn.includes(item.status)) return false;
    item.archivedPromoterIds = [...promoterIds];
    item.actions['firstpromoter.promoters'] = record;
    await this.#append(id, options.events);
    return true;
  }
  async get(id: string) {
    return structuredClone(this.items.get(id));
  }
  async recordAction(
    id: string,
    key: ActionKey,
    record: ActionRecord,
    guard: ActionGuard,
    options: { events?: readonly NewAuditEvent[] } = {},
  ) {
    const item = this.items.get(id) as ErasureRequest;
    if (!guard.whileIn.includes(item.status)) return false;
    item.actions[key] = record;
    await this.#append(id, options.events);
    return true;
  }
  async forgetProviderIds(id: string) {
    const item = this.items.get(id) as ErasureRequest;
    delete item.plans;
    delete item.archivedPromoterIds;
  }
  async transition(id: string, from: readonly string[], to: ErasureRequest['status'], options: any = {}) {
    const item = this.items.get(id);
    if (!item || !from.includes(item.status)) return undefined;
    item.status = to;
    if (options.completedAt) item.completedAt = options.completedAt;
    if (options.canceledAt) item.canceledAt = options.canceledAt;
    if (options.destroyIdentity) delete item.identity;
    return item;
  }
  async destroyIdentity(id: string, options: { forgetProviderIds?: boolean; events?: readonly NewAuditEvent[] } = {}) {
    delete this.items.get(id)?.identity;
    if (options.forgetProviderIds) await this.forgetProviderIds(id);
    return this.#append(id, options.events);
  }
}

/** Keyed events are appended once, and nothing after a sealing event, as the DynamoDB audit log does. */
class MemoryAudit implements AuditLog {
  readonly events: AuditEvent[] = [];
  async append(requestId: string, event: NewAuditEvent) {
    const existing = event.key ? this.events.find((e) => e.key === event.key) : undefined;
    if (existing) return existing;
    if (this.events.some((e) => SEALING_EVENTS.includes(e.type)))
      throw new AuditTrailSealedError(requestId, event.type);
    const seq = this.events.length + 1;
    const stored = { ...event, key: event.key ?? `${event.type}#${seq}`, requestId, seq, hash: `hash-${seq}` };
    this.events.push(stored as AuditEvent);
    return stored as AuditEvent;
  }
  async find(_requestId: string, key: string) {
    return this.events.find((e) => e.key === key);
  }
  async seal() {
    return this.events.find((e) => SEALING_EVENTS.includes(e.type));
  }
  async list() {
    return [...this.events];
  }
  async lanes() {
    return {};
  }
}

const batch = (status: Batch['status'], extra: Partial<Batch> = {}): Batch => ({
  id: 42,
  status,
  total: 7,
  selected_total: 7,
  processed_count: status === 'completed' ? 7 : 2,
  failed_count: 0,
  action_label: 'referral/delete',
  created_at: '',
  updated_at: '',
  meta: {},
  progress: 0,
  processing_errors: [],
  ...extra,
});

const cipher = new IdentityCipher(Buffer.alloc(32));

function setup(options: { now: string; batch?: Batch; actions?: ErasureRequest['actions']; remaining?: number[] }) {
  const audit = new MemoryAudit();
  const requests = new MemoryRequests(audit);
  requests.items.set('er_1', {
    id: 'er_1',
    status: 'processing',
    receivedAt: '2026-05-01T00:00:00.000Z',
    dueAt: '2026-06-01T00:00:00.000Z',
    webhookIdHash: 'w',
    payloadHash: 'h',
    signedWith: 's',
    subject: { pseudonym: 'p', identifiers: ['email'] },
    identity: cipher.encrypt(JSON.stringify({ email: 'unit@example.com' }), 'er_1'),
    plans: { 'firstpromoter.referrals': { ids: [1, 2, 3, 4, 5, 6, 7], at: '2026-05-01T00:00:00.000Z' } },
    actions: options.actions ?? {
      'firstpromoter.referrals': {
        provider: 'firstpromoter',
        action: 'delete_referrals',
        outcome: 'pending',
        count: 7,
        batchId: 42,
        updatedAt: '2026-05-01T00:00:00.000Z',
      },
    },
    expiresAt: 0,
  });
  const deleted: number[][] = [];
  const firstPromoter = {
    getBatch: async () => options.batch ?? batch('in_progress'),
    // The search after a batch ends: what is still there is not erased, whatever the batch reports.
    findReferrals: async () => (options.remaining ?? []).map((id) => ({ id, email: 'unit@example.com' })),
    deleteReferrals: async (ids: number[]) => {
      deleted.push(ids);
      return { ...batch('pending'), id: 43 };
    },
  } as unknown as FirstPromoterPort;
  const deps = {
    requests: requests as unknown as RequestRepository,
    audit,
    clock: { now: () => new Date(options.now) },
    cipher,
    firstPromoter,
    batchPoll: { intervalSeconds: 5, maxIntervalSeconds: 60, timeoutSeconds: 3600 },
    waitingPeriodSeconds: 0,
  };
  return { deps, requests, audit, deleted };
}

/** A poll of batch 42, which the step's own delete started unless `own` is false. */
const pollState = (polls: number, own = true) => ({
  requestId: 'er_1',
  done: false,
  batchId: 42,
  own,
  polls,
  startedAt: '2026-05-01T00:00:00.000Z',
  waitSeconds: 5,
});

describe('pollFirstPromoterBatch', () => {
  it('doubles the wait after each running poll, up to the maximum', async () => {
    const { deps } = setup({ now: '2026-05-01T00:01:00.000Z' });

    const waits = [];
    for (const polls of [0, 1, 2, 3, 4, 5])
      waits.push((await pollFirstPromoterBatch(deps, pollState(polls))).waitSeconds);

    expect(waits).toEqual([10, 20, 40, 60, 60, 60]);
  });

  it('ends the action failed with its batch id once the timeout has passed and the referrals are still there', async () => {
    const { deps, requests } = setup({ now: '2026-05-01T01:00:01.000Z', remaining: [1, 2, 3, 4, 5, 6, 7] });

    const result = await pollFirstPromoterBatch(deps, pollState(9));

    expect(result.done).toBe(true);
    expect(requests.items.get('er_1')?.actions['firstpromoter.referrals']).toMatchObject({
      outcome: 'failed',
      count: 7,
      batchId: 42,
      errors: [
        'batch still in_progress after 3601s (poll timeout)',
        '7 of 7 referral(s) still present after the batch',
      ],
    });
  });

  it('decides a timed-out batch by searching again: referrals no longer found are deleted', async () => {
    const { deps, requests } = setup({ now: '2026-05-01T01:00:01.000Z', remaining: [] });

    await pollFirstPromoterBatch(deps, pollState(9));

    expect(requests.items.get('er_1')?.actions['firstpromoter.referrals']).toMatchObject({
      outcome: 'deleted',
      count: 7,
      batchId: 42,
      notes: ['batch still in_progress after 3601s (poll timeout)', 'a search afterwards found none of them left'],
    });
  });

  it('records a completed batch with processing errors as partial, counting only what was deleted', async () => {
    const { deps, requests } = setup({
      now: '2026-05-01T00:01:00.000Z',
      batch: batch('completed', { failed_count: 2, processing_errors: ['Referral 9 not found', 'x'] }),
      remaining: [6, 7],
    });

    await pollFirstPromoterBatch(deps, pollState(1));

    expect(requests.items.get('er_1')?.actions['firstpromoter.referrals']).toMatchObject({
      outcome: 'partial',
      count: 5,
      errors: [
        '2 of 7 item(s) failed',
        '2 processing error(s) reported by FirstPromoter',
        '2 of 7 referral(s) still present after the batch',
      ],
    });
  });

  it('records the read-back as proof: when it searched, how many identifier forms, how many records still found', async () => {
    const { deps, requests } = setup({
      now: '2026-05-01T00:01:00.000Z',
      batch: batch('completed', { failed_count: 2 }),
      remaining: [6, 7],
    });

    await pollFirstPromoterBatch(deps, pollState(1));

    expect(requests.items.get('er_1')?.actions['firstpromoter.referrals']?.verification).toEqual({
      checkedAt: '2026-05-01T00:01:00.000Z',
      formsSearched: 1,
      stillFound: 2,
      outcome: 'partial',
    });
  });

  it("deletes the referrals itself when a batch it did not start (another request's, maybe) ends leaving them", async () => {
    const { deps, requests, deleted } = setup({
      now: '2026-05-01T00:01:00.000Z',
      batch: batch('completed'),
      remaining: [1, 2, 3, 4, 5, 6, 7],
    });

    const result = await pollFirstPromoterBatch(deps, pollState(1, false));

    expect(deleted).toEqual([[1, 2, 3, 4, 5, 6, 7]]);
    expect(result).toMatchObject({ done: false, batchId: 43, own: true, polls: 0 });
    expect(requests.items.get('er_1')?.actions['firstpromoter.referrals']).toMatchObject({
      outcome: 'pending',
      count: 7,
      batchId: 43,
    });
  });

  it('does not believe a completed batch when the referrals are still there', async () => {
    const { deps, requests } = setup({
      now: '2026-05-01T00:01:00.000Z',
      batch: batch('completed'),
      remaining: [1, 2, 3, 4, 5, 6, 7],
    });

    await pollFirstPromoterBatch(deps, pollState(1));

    expect(requests.items.get('er_1')?.actions['firstpromoter.referrals']).toMatchObject({
      outcome: 'failed',
      count: 7,
      errors: ['7 of 7 referral(s) still present after the batch'],
    });
  });
});

describe('finalizeRequest', () => {
  const record = (outcome: ActionRecord['outcome']): ActionRecord => ({
    provider: 'referralrock',
    action: 'x',
    outcome,
    count: 0,
    updatedAt: '',
  });

  it.each([
    [['deleted', 'not_found', 'deleted'], 'completed'],
    [['deleted', 'failed', 'deleted'], 'partially_completed'],
    [['deleted', 'partial', 'not_found'], 'partially_completed'],
    [['failed', 'failed', 'failed'], 'failed'],
  ] as const)('with outcomes %j sets %s and destroys the identity', async (outcomes, status) => {
    const { deps, requests, audit } = setup({
      now: '2026-05-02T00:00:00.000Z',
      actions: {
        'firstpromoter.promoters': record('archived'),
        'referralrock.members': record(outcomes[0]),
        'referralrock.referrals': record(outcomes[1]),
        'firstpromoter.referrals': record(outcomes[2]),
      },
    });

    const result = await finalizeRequest(deps, { requestId: 'er_1' });

    expect(result.status).toBe(status);
    expect(requests.items.get('er_1')?.identity).toBeUndefined();
    // Each recorded action has its event (appended here, as no step did), and the sealing event comes last.
    expect(audit.events.map((e) => e.type)).toEqual([
      ...Array(4).fill('action.recorded'),
      'identity.destroyed',
      'request.completed',
    ]);
    expect(audit.events.at(-1)?.data).toMatchObject({ status, withinDeadline: true });
  });

  it('appends the request.extended event an extension crashed before, once, before the seal', async () => {
    const { deps, requests, audit } = setup({
      now: '2026-05-02T00:00:00.000Z',
      actions: {
        'firstpromoter.promoters': record('archived'),
        'referralrock.members': record('deleted'),
        'referralrock.referrals': record('deleted'),
        'firstpromoter.referrals': record('deleted'),
      },
    });
    const item = requests.items.get('er_1') as ErasureRequest;
    item.extension = {
      months: 2,
      reasonCode: 'complexity',
      previousDueAt: item.dueAt,
      extendedAt: '2026-05-01T10:00:00.000Z',
      extendedBy: 'operator:abc',
    };
    item.dueAt = '2026-08-01T23:59:59.999Z';

    await finalizeRequest(deps, { requestId: 'er_1' });

    const types = audit.events.map((e) => e.type);
    expect(types.filter((t) => t === 'request.extended')).toHaveLength(1);
    expect(types.indexOf('request.extended')).toBeLessThan(types.indexOf('request.completed'));
    expect(audit.events.find((e) => e.type === 'request.extended')).toMatchObject({
      actor: 'operator:abc',
      data: { previousDueAt: '2026-06-01T00:00:00.000Z', dueAt: '2026-08-01T23:59:59.999Z', reasonCode: 'complexity' },
    });
  });

  it('issues the receipt after the seal and before the final status; a failed issue leaves the request closing', async () => {
    const actions = {
      'firstpromoter.promoters': record('archived'),
      'referralrock.members': record('deleted'),
      'referralrock.referrals': record('deleted'),
      'firstpromoter.referrals': record('deleted'),
    };
    const { deps, requests, audit } = setup({ now: '2026-05-02T00:00:00.000Z', actions });
    const issued: string[] = [];
    let failNext = true;
    const receipts = {
      issue: async (requestId: string) => {
        if (failNext) {
          failNext = false;
          throw new ReceiptIssueError('KMS did not answer');
        }
        // What the issuer sees: the trail sealed, the status not yet final.
        issued.push(`${audit.events.at(-1)?.type} while ${requests.items.get(requestId)?.status}`);
      },
    };

    await expect(finalizeRequest({ ...deps, receipts }, { requestId: 'er_1' })).rejects.toThrow(ReceiptIssueError);
    const statusAfterFailure = requests.items.get('er_1')?.status;
    const retried = await finalizeRequest({ ...deps, receipts }, { requestId: 'er_1' });

    expect(statusAfterFailure).toBe('closing');
    expect(issued).toEqual(['request.completed while closing']);
    expect(retried.status).toBe('completed');
    expect(requests.items.get('er_1')?.status).toBe('completed');
    expect(audit.events.filter((e) => e.type === 'request.completed')).toHaveLength(1);
  });

  it('does not call a request completed when archiving the promoters failed', async () => {
    const { deps } = setup({
      now: '2026-05-02T00:00:00.000Z',
      actions: {
        'firstpromoter.promoters': record('failed'),
        'referralrock.members': record('deleted'),
        'referralrock.referrals': record('not_found'),
        'firstpromoter.referrals': record('deleted'),
      },
    });

    expect((await finalizeRequest(deps, { requestId: 'er_1' })).status).toBe('partially_completed');
  });

  it('completes what a crashed finalize left: both events appended once, the same chain head returned', async () => {
    const { deps, requests, audit } = setup({
      now: '2026-05-02T00:00:00.000Z',
      actions: { 'firstpromoter.promoters': record('archived'), 'referralrock.members': record('deleted') },
    });
    const item = requests.items.get('er_1') as ErasureRequest;
    item.status = 'partially_completed';
    item.completedAt = '2026-05-01T12:00:00.000Z';

    const result = await finalizeRequest(deps, { requestId: 'er_1' });

    expect(result.status).toBe('partially_completed');
    expect(item.identity).toBeUndefined();
    expect(audit.events.map((e) => e.type)).toEqual(['identity.destroyed', 'request.completed']);
    expect(audit.events[1]?.data).toMatchObject({ completedAt: '2026-05-01T12:00:00.000Z' });
    expect(result.chainHead).toEqual({ seq: 2, hash: 'hash-2' });
    expect(item.plans).toBeUndefined();

    const again = await finalizeRequest(deps, { requestId: 'er_1' });

    expect(again.chainHead).toEqual(result.chainHead);
    expect(audit.events).toHaveLength(2);
  });

  it('counts an erasure action that never recorded an outcome as failed', async () => {
    const { deps } = setup({ now: '2026-05-02T00:00:00.000Z', actions: { 'referralrock.members': record('deleted') } });

    expect((await finalizeRequest(deps, { requestId: 'er_1' })).status).toBe('partially_completed');
  });
});

describe('archivePromoters', () => {
  function archiveSetup(stillActiveAfterArchive: boolean) {
    const { deps, requests, audit } = setup({ now: '2026-05-01T00:01:00.000Z', actions: {} });
    const request = requests.items.get('er_1') as ErasureRequest;
    request.status = 'waiting';
    // Two forms of one address: as received and lowercased.
    request.identity = cipher.encrypt(JSON.stringify({ email: 'Unit@example.com', externalId: 'crm-9' }), 'er_1');
    delete request.plans;
    let archived = false;
    const firstPromoter = {
      findPromoters: async () => [
        { id: 77, email: 'unit@example.com', cust_id: 'crm-9', archived_at: archived ? '2026-05-01T00:00:30Z' : null },
      ],
      archivePromoters: async () => {
        archived = !stillActiveAfterArchive;
        return { ...batch('completed', { action_label: 'promoter/archive', total: 1, selected_total: 1 }), id: 5 };
      },
    } as unknown as FirstPromoterPort;
    return { deps: { ...deps, firstPromoter }, requests, audit };
  }

  it('searches again after archiving and records the proof with the outcome', async () => {
    const { deps, requests, audit } = archiveSetup(false);

    await archivePromoters(deps, { requestId: 'er_1' });

    const action = requests.items.get('er_1')?.actions['firstpromoter.promoters'];
    expect(action).toMatchObject({ outcome: 'archived', count: 1 });
    const proof = { checkedAt: '2026-05-01T00:01:00.000Z', formsSearched: 3, stillFound: 0, outcome: 'archived' };
    expect(action?.verification).toEqual(proof);
    expect(audit.events.find((e) => e.type === 'action.recorded')?.data.verification).toEqual(proof);
  });

  it('does not call promoters archived when a search afterwards still finds them active, whatever the batch said', async () => {
    const { deps, requests } = archiveSetup(true);

    await archivePromoters(deps, { requestId: 'er_1' });

    expect(requests.items.get('er_1')?.actions['firstpromoter.promoters']).toMatchObject({
      outcome: 'failed',
      count: 1,
      errors: ['1 of 1 promoter(s) still active by a search afterwards'],
      verification: { stillFound: 1, outcome: 'failed' },
    });
  });
});

import { hashEvent, laneChainId } from '#shared/domain/chain';
import { type AuditEvent, type ErasureRequest, SEALING_EVENTS } from '#shared/domain/model';
import type { AuditLog, RequestRepository } from '#shared/ports/audit';

/**
 * Finished requests with real hash chains, held in memory: what the receipt issuer reads, without running workflows.
 */
export class SealedRequests {
  readonly requests = new Map<string, ErasureRequest>();
  readonly events = new Map<string, AuditEvent[]>();
  /** The lanes of requests added with `lanes: true`, by request id and lane. */
  readonly lanes = new Map<string, Record<string, AuditEvent[]>>();

  /**
   * A request ended `status` (or canceled), its trail sealed; `sealed: false` leaves the trail open; `lanes: true`
   * puts the action's event in its lane, whose head the seal commits to (as the workflow does).
   */
  add(
    id: string,
    options: { status?: ErasureRequest['status']; sealed?: boolean; extended?: boolean; lanes?: boolean } = {},
  ): ErasureRequest {
    const status = options.status ?? 'completed';
    const request: ErasureRequest = {
      id,
      status: options.sealed === false ? 'processing' : status,
      reference: `DSR-${id.slice(-4)}`,
      receivedAt: '2026-11-01T10:00:00.000Z',
      dueAt: '2026-12-01T23:59:59.999Z',
      completedAt: '2026-11-01T10:05:00.000Z',
      webhookIdHash: 'w',
      payloadHash: 'p',
      signedWith: 'sender',
      subject: { pseudonym: `pseudonym-of-${id}`, identifiers: ['email'] },
      actions: {
        'referralrock.members': {
          provider: 'referralrock',
          action: 'delete_members',
          outcome: 'deleted',
          count: 2,
          verification: { checkedAt: '2026-11-01T10:04:00.000Z', formsSearched: 1, stillFound: 0, outcome: 'deleted' },
          updatedAt: '2026-11-01T10:04:00.000Z',
        },
      },
      expiresAt: 0,
    };
    const events: AuditEvent[] = [];
    const add = (type: string, data: Record<string, unknown>) => {
      const prev = events.at(-1);
      const unsigned = {
        requestId: id,
        seq: events.length + 1,
        type,
        at: `2026-11-01T10:0${events.length}:00.000Z`,
        actor: 'workflow',
        data,
        key: type,
        prevHash: prev?.hash ?? '0'.repeat(64),
      };
      events.push({ ...unsigned, hash: hashEvent(unsigned), expiresAt: 0 });
    };
    add('request.received', { reference: request.reference });
    if (options.extended) {
      request.extension = {
        months: 2,
        reasonCode: 'complexity',
        note: 'a note an operator typed: Jane Roe called',
        previousDueAt: request.dueAt,
        extendedAt: '2026-11-01T10:01:00.000Z',
        extendedBy: 'operator:abc',
      };
      add('request.extended', {
        previousDueAt: request.dueAt,
        dueAt: '2027-02-01T23:59:59.999Z',
        months: 2,
        reasonCode: 'complexity',
        note: 'a note an operator typed: Jane Roe called',
      });
    }
    const actionData = { key: 'referralrock.members', outcome: 'deleted', count: 2 };
    let committed: Record<string, unknown> = {};
    if (options.lanes) {
      const chainId = laneChainId(id, 'referralrock.members');
      const unsigned = {
        requestId: chainId,
        seq: 1,
        type: 'action.recorded',
        at: '2026-11-01T10:04:00.000Z',
        actor: 'workflow',
        data: actionData,
        key: 'action:referralrock.members:deleted',
        prevHash: '0'.repeat(64),
      };
      const event = { ...unsigned, hash: hashEvent(unsigned), expiresAt: 0 };
      this.lanes.set(id, { 'referralrock.members': [event] });
      committed = { lanes: { 'referralrock.members': { seq: 1, hash: event.hash } } };
    } else add('action.recorded', actionData);
    if (options.sealed !== false) {
      if (status === 'canceled') add('request.canceled', committed);
      else
        add('request.completed', {
          status,
          completedAt: request.completedAt,
          dueAt: request.dueAt,
          withinDeadline: true,
          ...committed,
        });
    }
    this.requests.set(id, request);
    this.events.set(id, events);
    return request;
  }

  get stores(): {
    requests: Pick<RequestRepository, 'get'>;
    audit: Pick<AuditLog, 'list' | 'seal' | 'find' | 'lanes'>;
  } {
    const events = (id: string) => structuredClone(this.events.get(id) ?? []);
    return {
      requests: { get: async (id) => structuredClone(this.requests.get(id)) },
      audit: {
        list: async (id) => events(id),
        seal: async (id) => events(id).find((e) => SEALING_EVENTS.includes(e.type)),
        find: async (id, key) => events(id).find((e) => e.key === key),
        lanes: async (id) => structuredClone(this.lanes.get(id) ?? {}),
      },
    };
  }
}

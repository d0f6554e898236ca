import type { AuditEvent, NewAuditEvent } from '#shared/domain/model';
import type { AuditLog, ChainLink, Clock } from '#shared/ports/audit';
import { AuditChain } from './audit-chain.ts';
import type { DynamoDBDocumentClient } from './document-client.ts';

/**
 * The events table: append-only and hash-chained. A request's chain head lives on its request item, and an append is
 * one conditional write of the event together with the new head (`audit-chain.ts`): two writers racing (parallel
 * workflow branches) cannot both take the same place, and no event can follow a sealing event (`request.completed`,
 * `request.canceled`); an event with a `lane` goes to that lane of the trail, whose head is apart. The stack's IAM grants put/get/query only on this table, so not even this code could update or
 * delete an event.
 */
export class DynamoAuditLog implements AuditLog {
  readonly #chain: AuditChain;

  /**
   * @param tables the events table, and the requests table whose items hold the chain heads (without it, every chain is
   *   read from its events before an append, as a chain without a request item is)
   */
  constructor(
    db: DynamoDBDocumentClient,
    tables: string | { requests?: string; auditEvents: string },
    options: { clock: Clock; retentionDays: number },
  ) {
    this.#chain = new AuditChain(db, typeof tables === 'string' ? { auditEvents: tables } : tables, options);
  }

  async append(requestId: string, event: NewAuditEvent): Promise<ChainLink> {
    const result = await this.#chain.write(requestId, { events: [event] });
    const [link] = result.links ?? [];
    if (!link) throw new Error(`The audit trail of ${requestId} refused ${event.type}`);
    return link;
  }

  seal(requestId: string): Promise<AuditEvent | undefined> {
    return this.#chain.seal(requestId);
  }

  find(requestId: string, key: string): Promise<AuditEvent | undefined> {
    return this.#chain.find(requestId, key);
  }

  list(requestId: string): Promise<AuditEvent[]> {
    return this.#chain.list(requestId);
  }

  lanes(requestId: string): Promise<Record<string, AuditEvent[]>> {
    return this.#chain.lanes(requestId);
  }
}

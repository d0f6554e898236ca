import type { Clock, RequestRepository } from '#shared/ports/audit';

export interface OverdueReport {
  unfinished: number;
  overdue: number;
  /** Ids of overdue requests (ids only: no personal data), oldest due date first. */
  overdueIds: string[];
}

/**
 * GDPR Art. 12(3): a request must be answered within one month. Counts unfinished requests past their due date so an
 * alarm can fire before a regulator asks.
 */
export async function findOverdueRequests(deps: { requests: RequestRepository; clock: Clock }): Promise<OverdueReport> {
  const now = deps.clock.now().toISOString();
  const unfinished = await deps.requests.listUnfinished();
  const overdue = unfinished.filter((r) => r.dueAt < now).sort((a, b) => a.dueAt.localeCompare(b.dueAt));
  return { unfinished: unfinished.length, overdue: overdue.length, overdueIds: overdue.map((r) => r.id) };
}

import { ValidationError } from '#shared/errors';
import type { RequestListPage, RequestRepository } from '#shared/ports/audit';
import { type RequestSummary, toSummary } from '../domain/erasure-requests.ts';
import { type ErasureRequest, REQUEST_STATUSES, type RequestStatus } from '../domain/model.ts';

/** Rows per page unless `limit` says otherwise, and the most a page may hold. */
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 500;
/**
 * Rows a page may examine, all statuses together, before it answers: a filter (`overdue`) that matches little must not
 * turn one page into a read of the whole period. A page cut short answers what it found and a cursor past what it read.
 */
const MAX_EXAMINED_PER_PAGE = 2_000;

/** Where a listing stands: the last row it examined, in (receivedAt, id) order. Opaque to callers. */
interface Position {
  receivedAt: string;
  id: string;
}

export interface ListQuery {
  statuses: readonly RequestStatus[];
  /** Received at or after (ISO 8601). */
  from?: string;
  /** Received before (ISO 8601). */
  to?: string;
  overdue?: boolean;
  limit: number;
  after?: Position;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

/**
 * Reads `status`, `overdue`, `from`, `to`, `limit` and `cursor` from a query string. `status` may list several,
 * comma-separated; `from`/`to` are dates (`2026-11-01`, UTC midnight) or ISO 8601 instants.
 * @throws ValidationError naming the parameter at fault
 */
export function parseListQuery(params: Record<string, string | undefined>): ListQuery {
  const problems: string[] = [];
  const statuses = (params.status ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = statuses.filter((s) => !REQUEST_STATUSES.includes(s as RequestStatus));
  if (unknown.length) problems.push(`status: must be one or more of ${REQUEST_STATUSES.join(', ')}`);
  const instant = (name: 'from' | 'to') => {
    const raw = params[name];
    if (raw === undefined || raw === '') return undefined;
    const date = ISO_DATE.test(raw) ? new Date(raw) : undefined;
    if (!date || Number.isNaN(date.getTime())) {
      problems.push(`${name}: must be a date (YYYY-MM-DD) or an ISO 8601 instant`);
      return undefined;
    }
    return date.toISOString();
  };
  const from = instant('from');
  const to = instant('to');
  // A period that ends before it starts holds nothing: said, rather than answered with an empty page that reads as
  // "no requests then".
  if (from && to && to <= from) problems.push('to: must be after from');
  let overdue: boolean | undefined;
  if (params.overdue === 'true') overdue = true;
  else if (params.overdue === 'false') overdue = false;
  else if (params.overdue !== undefined && params.overdue !== '') problems.push('overdue: must be true or false');
  const limit = params.limit === undefined || params.limit === '' ? DEFAULT_PAGE_SIZE : Number(params.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    problems.push(`limit: must be a whole number from 1 to ${MAX_PAGE_SIZE}`);
  }
  const after = params.cursor ? decodeCursor(params.cursor) : undefined;
  if (params.cursor && !after) problems.push('cursor: not a cursor this service issued');
  if (problems.length) throw new ValidationError(`Invalid query: ${problems.join('; ')}`);
  return {
    statuses: statuses.length ? (statuses as RequestStatus[]) : REQUEST_STATUSES,
    ...(from ? { from } : {}),
    ...(to ? { to } : {}),
    ...(overdue === undefined ? {} : { overdue }),
    limit,
    ...(after ? { after } : {}),
  };
}

export const encodeCursor = (position: Position): string =>
  Buffer.from(JSON.stringify([position.receivedAt, position.id])).toString('base64url');

function decodeCursor(cursor: string): Position | undefined {
  try {
    const [receivedAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof receivedAt !== 'string' || typeof id !== 'string' || !ISO_DATE.test(receivedAt)) return undefined;
    return { receivedAt, id };
  } catch {
    return undefined;
  }
}

const compare = (a: Position, b: Position) =>
  a.receivedAt < b.receivedAt ? -1 : a.receivedAt > b.receivedAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

/** One status's requests in receivedAt order, read a page at a time from the status index. */
class StatusStream {
  #buffer: ErasureRequest[] = [];
  #next: RequestListPage['next'];
  #started = false;
  readonly #fetch: (startKey: RequestListPage['next']) => Promise<RequestListPage>;
  readonly #after: Position | undefined;

  constructor(fetch: (startKey: RequestListPage['next']) => Promise<RequestListPage>, after: Position | undefined) {
    this.#fetch = fetch;
    this.#after = after;
  }

  get exhausted(): boolean {
    return this.#started && this.#buffer.length === 0 && this.#next === undefined;
  }

  /** The next row, reading a page when the buffer is empty; undefined at the end. */
  async head(): Promise<ErasureRequest | undefined> {
    while (this.#buffer.length === 0 && (!this.#started || this.#next !== undefined)) {
      const page = await this.#fetch(this.#next);
      this.#started = true;
      this.#next = page.next;
      // Rows at the cursor's instant that were already examined are skipped; ties ordered by id.
      this.#buffer = page.items
        .filter((r) => !this.#after || compare(r, this.#after) > 0)
        .sort((a, b) => compare(a, b));
    }
    return this.#buffer[0];
  }

  take(): void {
    this.#buffer.shift();
  }
}

/**
 * One page of requests, oldest received first, across the statuses asked for: each status is read from the status
 * index (partition `status`, sorted by `receivedAt`) between `from` and `to`, and the streams are merged, so no page
 * reads the whole table. `nextCursor` is null once nothing is left. A request whose status changes between two pages
 * may appear in both or in neither (the list is of live data; an export of a closed period is stable).
 */
export async function listErasureRequests(
  deps: { requests: Pick<RequestRepository, 'listByStatus'>; clock: { now(): Date } },
  query: ListQuery,
): Promise<{ requests: RequestSummary[]; nextCursor: string | null }> {
  const now = deps.clock.now();
  const pageSize = Math.min(query.limit + 1, 200);
  const from =
    query.after && (!query.from || query.after.receivedAt > query.from) ? query.after.receivedAt : query.from;
  const streams = query.statuses.map(
    (status) =>
      new StatusStream(
        (startKey) =>
          deps.requests.listByStatus(status, {
            ...(from ? { from } : {}),
            ...(query.to ? { to: query.to } : {}),
            limit: pageSize,
            ...(startKey ? { startKey } : {}),
          }),
        query.after,
      ),
  );
  const requests: RequestSummary[] = [];
  let examined = 0;
  let last: Position | undefined;
  while (requests.length < query.limit && examined < MAX_EXAMINED_PER_PAGE) {
    const heads = await Promise.all(streams.map((s) => s.head()));
    let pick = -1;
    heads.forEach((head, i) => {
      const best = pick >= 0 ? heads[pick] : undefined;
      if (head && (!best || compare(head, best) < 0)) pick = i;
    });
    if (pick < 0) return { requests, nextCursor: null };
    const row = heads[pick] as ErasureRequest;
    streams[pick]?.take();
    examined++;
    last = { receivedAt: row.receivedAt, id: row.id };
    const summary = toSummary(row, now);
    if (query.overdue === undefined || summary.overdue === query.overdue) requests.push(summary);
  }
  const more = (await Promise.all(streams.map((s) => s.head()))).some(Boolean);
  return { requests, nextCursor: more && last ? encodeCursor(last) : null };
}

/**
 * The overview's figures, computed in the browser from the requests the API lists: pure functions of their input
 * (and of `now`), so the tests check them without a browser.
 */

export const STATUSES = [
  'received',
  'waiting',
  'processing',
  'closing',
  'completed',
  'partially_completed',
  'failed',
  'canceling',
  'canceled',
];
/** Statuses after which nothing more happens to a request (as `shared/domain/model.ts` has them). */
export const FINAL_STATUSES = ['completed', 'partially_completed', 'failed', 'canceled'];
/** Ends whose time counts as "time to complete": a cancel is not a completion. */
const COMPLETION_STATUSES = ['completed', 'partially_completed', 'failed'];

const DAY_MS = 86_400_000;

/**
 * @typedef {{ provider: string, action: string, outcome: string, count?: number }} ActionSummary
 * @typedef {{ id: string, status: string, reference?: string | null, receivedAt: string, dueAt: string,
 *   completedAt?: string, canceledAt?: string, overdue?: boolean, actions?: ActionSummary[],
 *   extension?: unknown, extendedAt?: string, originalDueAt?: string }} RequestSummary
 */

/**
 * Whether a request's deadline was extended (Art. 12(3)), by whichever field the API shows it with.
 * @param {RequestSummary} request
 */
export const isExtended = (request) => Boolean(request.extension || request.extendedAt || request.originalDueAt);

/**
 * The median (the mean of the two middle values for an even count) and the 95th percentile by the nearest-rank
 * method (the smallest value at or above 95 % of the values), of durations in milliseconds.
 * @param {number[]} values
 * @returns {{ count: number, median?: number, p95?: number }}
 */
export function medianAndP95(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { count: 0 };
  const middle = Math.floor(n / 2);
  const median = n % 2 ? sorted[middle] : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
  return { count: n, median, p95: sorted[Math.ceil(0.95 * n) - 1] };
}

/**
 * Time from receipt to completion of every request that ended with an erasure outcome (not canceled).
 * @param {RequestSummary[]} requests
 */
export function timeToComplete(requests) {
  return medianAndP95(
    requests
      .filter((r) => COMPLETION_STATUSES.includes(r.status) && r.completedAt)
      .map((r) => Date.parse(/** @type {string} */ (r.completedAt)) - Date.parse(r.receivedAt)),
  );
}

/**
 * Requests still open, the nearest deadline first, with whole days left (negative once overdue).
 * @param {RequestSummary[]} requests
 * @param {Date} now
 */
export function openRequests(requests, now) {
  return requests
    .filter((r) => !FINAL_STATUSES.includes(r.status))
    .sort((a, b) => Date.parse(a.dueAt) - Date.parse(b.dueAt) || Date.parse(a.receivedAt) - Date.parse(b.receivedAt))
    .map((request) => {
      const left = Date.parse(request.dueAt) - now.getTime();
      return {
        request,
        overdue: left < 0,
        extended: isExtended(request),
        daysLeft: left < 0 ? -Math.ceil(-left / DAY_MS) : Math.floor(left / DAY_MS),
      };
    });
}

/**
 * How many actions ended with each outcome, per provider and action.
 * @param {RequestSummary[]} requests
 * @returns {{ rows: { provider: string, action: string, outcomes: Record<string, number> }[], outcomes: string[] }}
 */
export function outcomesPerProvider(requests) {
  /** @type {Map<string, { provider: string, action: string, outcomes: Record<string, number> }>} */
  const rows = new Map();
  /** @type {Set<string>} */
  const outcomes = new Set();
  for (const request of requests) {
    for (const action of request.actions ?? []) {
      const key = `${action.provider} ${action.action}`;
      const row = rows.get(key) ?? { provider: action.provider, action: action.action, outcomes: {} };
      row.outcomes[action.outcome] = (row.outcomes[action.outcome] ?? 0) + 1;
      outcomes.add(action.outcome);
      rows.set(key, row);
    }
  }
  return {
    rows: [...rows.values()].sort((a, b) => `${a.provider} ${a.action}`.localeCompare(`${b.provider} ${b.action}`)),
    outcomes: [...outcomes].sort(),
  };
}

/**
 * Requests received per day (per week, Monday first, when the period spans more than 62 days), counted by their
 * current status: the chart's bars. Days are UTC days; empty days inside the period are kept, so gaps show.
 * @param {RequestSummary[]} requests
 * @param {{ from?: Date, to?: Date }} period when absent, the span of the requests themselves
 */
export function statusSeries(requests, period = {}) {
  const times = requests.map((r) => Date.parse(r.receivedAt));
  if (times.length === 0 && (!period.from || !period.to)) return { unit: 'day', buckets: [] };
  const first = period.from?.getTime() ?? Math.min(...times);
  const last = period.to?.getTime() ?? Math.max(...times);
  const unit = last - first > 62 * DAY_MS ? 'week' : 'day';
  const startOf = (/** @type {number} */ t) => {
    const day = Math.floor(t / DAY_MS) * DAY_MS;
    // 1970-01-01 was a Thursday: (days + 3) % 7 counts days since a Monday.
    return unit === 'day' ? day : day - ((day / DAY_MS + 3) % 7) * DAY_MS;
  };
  const step = unit === 'day' ? DAY_MS : 7 * DAY_MS;
  /** @type {{ start: string, counts: Record<string, number>, total: number }[]} */
  const buckets = [];
  /** @type {Map<number, (typeof buckets)[number]>} */
  const byStart = new Map();
  for (let t = startOf(first); t <= last; t += step) {
    const bucket = { start: new Date(t).toISOString().slice(0, 10), counts: {}, total: 0 };
    buckets.push(bucket);
    byStart.set(t, bucket);
  }
  for (const [index, request] of requests.entries()) {
    const bucket = byStart.get(startOf(/** @type {number} */ (times[index])));
    if (!bucket) continue;
    bucket.counts[request.status] = (bucket.counts[request.status] ?? 0) + 1;
    bucket.total += 1;
  }
  return { unit, buckets };
}

/** Each unit with its size in milliseconds, smallest first. */
const DURATION_UNITS = /** @type {const} */ ([
  [1_000, 's'],
  [60_000, 'min'],
  [3_600_000, 'h'],
  [DAY_MS, 'days'],
]);

/**
 * A duration in the unit an auditor reads at a glance at its scale: "350 ms", "4.2 s", "45 s", "1.5 min",
 * "12 min", "3.5 h", "4.2 days" (one decimal below 10 of a unit; the unit chosen after rounding, so never "60 s").
 * The same rules as the report's (shared/reporting/duration.ts); test/unit/duration.test.ts holds the two together.
 * @param {number} ms
 */
export function formatDuration(ms) {
  if (Math.round(ms) < 1_000) return `${Math.round(ms)} ms`;
  for (const [index, [size, unit]] of DURATION_UNITS.entries()) {
    const value = ms / size;
    const text = value < 9.95 ? value.toFixed(1) : String(Math.round(value));
    const larger = DURATION_UNITS[index + 1];
    if (!larger || Number(text) * size < larger[0]) return `${text} ${unit}`;
  }
  return '';
}

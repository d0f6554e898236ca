import { EXTENSION_REASONS, type ExtensionReason } from '../domain/deadline-extension.ts';
import type { RequestSummary } from '../domain/erasure-requests.ts';
import {
  ACTION_KEYS,
  ACTION_OUTCOMES,
  ACTIONS,
  type ActionOutcome,
  FINAL_STATUSES,
  REQUEST_STATUSES,
  type RequestStatus,
} from '../domain/model.ts';
import { csvRecord } from './csv.ts';
import { formatDuration } from './duration.ts';

/** Statuses in which a request ended with an erasure attempted (a canceled one erased nothing on purpose). */
const ERASURE_ENDS: readonly RequestStatus[] = ['completed', 'partially_completed', 'failed'];

/**
 * The accountability report of one calendar month (GDPR Art. 5(2): be able to demonstrate compliance), over the
 * requests received in it (UTC): counts by status, time to complete, deadline compliance, overdue and extended
 * requests, outcomes per provider action.
 */
export interface AccountabilityReport {
  /** `YYYY-MM`. */
  month: string;
  generatedAt: string;
  requests: number;
  byStatus: Record<RequestStatus, number>;
  /**
   * From receipt to the end, of the requests that ended with an erasure attempted; nearest-rank percentiles, in
   * hours to 6 decimals (3.6 ms), so a local request's seconds do not read as 0.
   */
  timeToComplete: { requests: number; medianHours: number | null; p95Hours: number | null };
  deadline: {
    /** Ended (completed, partially completed, failed) by their due date, the extended one where extended. */
    metOnTime: number;
    /** Ended after their due date. */
    endedLate: number;
    /** Not ended yet and past their due date. */
    openOverdue: number;
    /** metOnTime / (metOnTime + endedLate + openOverdue); null when there is nothing to judge. */
    compliance: number | null;
  };
  /** Requests that ended late or are open past due, by id. */
  overdueIds: string[];
  extended: { requests: number; byReason: Record<ExtensionReason, number>; ids: string[] };
  /** Per provider action, how many requests ended with each outcome. */
  outcomes: Array<{ provider: string; action: string; counts: Partial<Record<ActionOutcome, number>> }>;
}

/**
 * Builds the report of `month` (`YYYY-MM`) from the requests received in it. `now` decides which open requests are
 * overdue. Pure: the CLI reads the requests through the list API.
 */
export function buildAccountabilityReport(
  month: string,
  requests: readonly RequestSummary[],
  now: Date,
): AccountabilityReport {
  const byStatus = Object.fromEntries(REQUEST_STATUSES.map((s) => [s, 0])) as Record<RequestStatus, number>;
  for (const r of requests) byStatus[r.status]++;
  const ended = requests.filter((r) => ERASURE_ENDS.includes(r.status) && r.completedAt);
  const hours = ended
    .map((r) => (Date.parse(r.completedAt as string) - Date.parse(r.receivedAt)) / 3_600_000)
    .sort((a, b) => a - b);
  const metOnTime = ended.filter((r) => (r.completedAt as string) <= r.dueAt).length;
  const late = ended.filter((r) => (r.completedAt as string) > r.dueAt);
  const nowIso = now.toISOString();
  // Open by status: a canceled request has canceledAt and never completedAt, yet it has ended.
  const openOverdue = requests.filter((r) => !FINAL_STATUSES.includes(r.status) && r.dueAt < nowIso);
  const judged = metOnTime + late.length + openOverdue.length;
  const extended = requests.filter((r) => r.extension);
  const byReason = Object.fromEntries(EXTENSION_REASONS.map((reason) => [reason, 0])) as Record<
    ExtensionReason,
    number
  >;
  for (const r of extended) if (r.extension) byReason[r.extension.reasonCode]++;
  return {
    month,
    generatedAt: nowIso,
    requests: requests.length,
    byStatus,
    timeToComplete: {
      requests: hours.length,
      medianHours: roundHours(median(hours)),
      p95Hours: roundHours(nearestRank(hours, 0.95)),
    },
    deadline: {
      metOnTime,
      endedLate: late.length,
      openOverdue: openOverdue.length,
      compliance: judged === 0 ? null : Math.round((metOnTime / judged) * 10_000) / 10_000,
    },
    overdueIds: [...late, ...openOverdue].map((r) => r.id),
    extended: { requests: extended.length, byReason, ids: extended.map((r) => r.id) },
    outcomes: ACTION_KEYS.map((key) => {
      const { provider, action } = ACTIONS[key];
      const counts: Partial<Record<ActionOutcome, number>> = {};
      for (const r of requests) {
        const found = r.actions.find((a) => a.provider === provider && a.action === action);
        if (found) counts[found.outcome] = (counts[found.outcome] ?? 0) + 1;
      }
      return { provider, action, counts };
    }),
  };
}

function median(sorted: readonly number[]): number | null {
  if (sorted.length === 0) return null;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The nearest-rank percentile: the smallest value with at least `p` of the values at or below it. */
function nearestRank(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] as number;
}

const roundHours = (value: number | null) => (value === null ? null : Math.round(value * 1e6) / 1e6);
const percent = (ratio: number | null) => (ratio === null ? 'n/a' : `${(ratio * 100).toFixed(1)} %`);
const durationOrNa = (hours: number | null) => (hours === null ? 'n/a' : formatDuration(hours * 3_600_000));

/** The report as Markdown, for people. */
export function reportMarkdown(report: AccountabilityReport): string {
  const lines = [
    `# Erasure requests received in ${report.month}: accountability report`,
    '',
    `Generated ${report.generatedAt}. ${report.requests} request(s) received in ${report.month} (UTC).`,
    '',
    '## Requests by status',
    '',
    '| status | requests |',
    '| --- | ---: |',
    ...REQUEST_STATUSES.map((s) => `| ${s} | ${report.byStatus[s]} |`),
    '',
    '## Time to complete',
    '',
    `From receipt to the end, over ${report.timeToComplete.requests} request(s) that ended completed, partially completed or failed: median ${durationOrNa(report.timeToComplete.medianHours)}, 95th percentile ${durationOrNa(report.timeToComplete.p95Hours)} (nearest rank).`,
    '',
    '## Deadline compliance (GDPR Art. 12(3))',
    '',
    '| | requests |',
    '| --- | ---: |',
    `| ended by their due date | ${report.deadline.metOnTime} |`,
    `| ended after their due date | ${report.deadline.endedLate} |`,
    `| open and past their due date | ${report.deadline.openOverdue} |`,
    `| **compliance** | **${percent(report.deadline.compliance)}** |`,
    '',
    `Overdue: ${report.overdueIds.length ? report.overdueIds.map((id) => `\`${id}\``).join(', ') : 'none'}.`,
    '',
    '## Extended deadlines',
    '',
    `${report.extended.requests} request(s) extended (${EXTENSION_REASONS.map((r) => `${r}: ${report.extended.byReason[r]}`).join(', ')})${report.extended.ids.length ? `: ${report.extended.ids.map((id) => `\`${id}\``).join(', ')}` : ''}.`,
    '',
    '## Outcomes per provider',
    '',
    `| provider | action | ${ACTION_OUTCOMES.join(' | ')} |`,
    `| --- | --- | ${ACTION_OUTCOMES.map(() => '---:').join(' | ')} |`,
    ...report.outcomes.map(
      (o) =>
        `| ${o.provider} | ${o.action} | ${ACTION_OUTCOMES.map((outcome) => o.counts[outcome] ?? 0).join(' | ')} |`,
    ),
    '',
  ];
  return lines.join('\n');
}

/** The report as CSV, for spreadsheets: one `section,metric,value` record per figure. */
export function reportCsv(report: AccountabilityReport): string {
  const rows: Array<[string, string, string | number | null]> = [
    ['report', 'month', report.month],
    ['report', 'generatedAt', report.generatedAt],
    ['report', 'requests', report.requests],
    ...REQUEST_STATUSES.map((s): [string, string, number] => ['status', s, report.byStatus[s]]),
    ['timeToComplete', 'requests', report.timeToComplete.requests],
    ['timeToComplete', 'medianHours', report.timeToComplete.medianHours],
    ['timeToComplete', 'p95Hours', report.timeToComplete.p95Hours],
    ['deadline', 'metOnTime', report.deadline.metOnTime],
    ['deadline', 'endedLate', report.deadline.endedLate],
    ['deadline', 'openOverdue', report.deadline.openOverdue],
    ['deadline', 'compliance', report.deadline.compliance],
    ['extended', 'requests', report.extended.requests],
    ...EXTENSION_REASONS.map((r): [string, string, number] => ['extended', r, report.extended.byReason[r]]),
    ...report.outcomes.flatMap((o) =>
      ACTION_OUTCOMES.map((outcome): [string, string, number] => [
        `outcome.${o.provider}.${o.action}`,
        outcome,
        o.counts[outcome] ?? 0,
      ]),
    ),
    ...report.overdueIds.map((id): [string, string, string] => ['overdue', 'id', id]),
    ...report.extended.ids.map((id): [string, string, string] => ['extended', 'id', id]),
  ];
  return [csvRecord(['section', 'metric', 'value']), ...rows.map((row) => csvRecord(row))].join('');
}

/**
 * The UTC instants bounding a month `YYYY-MM`: [from, to).
 * @throws RangeError for anything but a month `YYYY-MM`
 */
export function monthRange(month: string): { from: string; to: string } {
  const match = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(month);
  if (!match) throw new RangeError('--month must be YYYY-MM, e.g. 2026-12');
  const year = Number(match[1]);
  const index = Number(match[2]) - 1;
  return {
    from: new Date(Date.UTC(year, index, 1)).toISOString(),
    to: new Date(Date.UTC(year, index + 1, 1)).toISOString(),
  };
}

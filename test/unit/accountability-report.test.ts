import { describe, expect, it } from 'vitest';
import type { RequestSummary } from '#shared/domain/erasure-requests';
import {
  buildAccountabilityReport,
  monthRange,
  reportCsv,
  reportMarkdown,
} from '#shared/reporting/accountability-report';
import { EXPORT_COLUMNS, exportCsvRecord } from '#shared/reporting/export-rows';

const request = (id: string, overrides: Partial<RequestSummary>): RequestSummary => ({
  id,
  status: 'completed',
  reference: null,
  receivedAt: '2026-11-01T00:00:00.000Z',
  dueAt: '2026-12-01T23:59:59.999Z',
  overdue: false,
  subject: { pseudonym: 'p', identifiers: ['email'] },
  actions: [],
  ...overrides,
});

const hoursLater = (h: number) => new Date(Date.parse('2026-11-01T00:00:00.000Z') + h * 3_600_000).toISOString();

describe('buildAccountabilityReport', () => {
  it('counts statuses, times to complete (median, nearest-rank p95) and deadline compliance', () => {
    const requests = [
      ...[1, 2, 3, 4, 10].map((h, i) => request(`er_${i}`, { completedAt: hoursLater(h) })),
      request('er_late', { status: 'partially_completed', completedAt: '2026-12-02T00:00:00.000Z' }),
      request('er_open', { status: 'processing', dueAt: '2026-11-20T00:00:00.000Z' }),
      request('er_cancel', { status: 'canceled', canceledAt: hoursLater(1) }),
      request('er_ext', {
        status: 'waiting',
        dueAt: '2027-02-01T23:59:59.999Z',
        extension: {
          months: 2,
          reasonCode: 'complexity',
          previousDueAt: '2026-12-01T23:59:59.999Z',
          extendedAt: hoursLater(5),
        },
      }),
    ];

    const report = buildAccountabilityReport('2026-11', requests, new Date('2026-12-05T00:00:00.000Z'));

    expect(report.requests).toBe(9);
    expect(report.byStatus).toMatchObject({
      completed: 5,
      partially_completed: 1,
      processing: 1,
      canceled: 1,
      waiting: 1,
    });
    // Six ended with an erasure attempted: 1, 2, 3, 4, 10 and 744 hours; canceled requests are not timed.
    expect(report.timeToComplete).toEqual({ requests: 6, medianHours: 3.5, p95Hours: 744 });
    // The extended one is due in February: not overdue; the processing one is.
    expect(report.deadline).toEqual({ metOnTime: 5, endedLate: 1, openOverdue: 1, compliance: 0.7143 });
    expect(report.overdueIds).toEqual(['er_late', 'er_open']);
    expect(report.extended).toEqual({
      requests: 1,
      byReason: { complexity: 1, number_of_requests: 0 },
      ids: ['er_ext'],
    });
  });

  it('times requests of seconds in seconds, not as 0 h, and keeps the CSV in hours', () => {
    // As on `npm start`: local erasures end seconds after receipt.
    const secondsLater = (s: number) => new Date(Date.parse('2026-11-01T00:00:00.000Z') + s * 1_000).toISOString();
    const report = buildAccountabilityReport(
      '2026-11',
      [4, 16, 17].map((s, i) => request(`er_${i}`, { completedAt: secondsLater(s) })),
      new Date('2026-11-02T00:00:00.000Z'),
    );

    expect(reportMarkdown(report)).toContain('median 16 s, 95th percentile 17 s (nearest rank)');
    expect(reportCsv(report)).toContain('timeToComplete,medianHours,0.004444\r\n');
    expect(reportCsv(report)).toContain('timeToComplete,p95Hours,0.004722\r\n');
  });

  it('takes a request canceled before its due date for ended, not for one open past it', () => {
    // A cancel records canceledAt, never completedAt: the request is final, whatever the date of the report.
    const canceled = request('er_canceled', {
      status: 'canceled',
      canceledAt: hoursLater(2),
      dueAt: '2026-12-01T23:59:59.999Z',
    });
    const open = request('er_open', { status: 'canceling', dueAt: '2026-12-01T23:59:59.999Z' });

    const report = buildAccountabilityReport('2026-11', [canceled, open], new Date('2026-12-05T00:00:00.000Z'));

    expect(report.deadline).toEqual({ metOnTime: 0, endedLate: 0, openOverdue: 1, compliance: 0 });
    expect(report.overdueIds).toEqual(['er_open']);
  });

  it('counts outcomes per provider action and says n/a with nothing to judge', () => {
    const deleted = { provider: 'referralrock', action: 'delete_members', outcome: 'deleted' as const, count: 2 };
    const report = buildAccountabilityReport(
      '2026-11',
      [request('er_a', { status: 'processing', actions: [deleted], dueAt: '2027-01-01T00:00:00.000Z' })],
      new Date('2026-11-10T00:00:00.000Z'),
    );

    expect(report.outcomes.find((o) => o.action === 'delete_members')?.counts).toEqual({ deleted: 1 });
    expect(report.deadline.compliance).toBeNull();
    expect(report.timeToComplete.medianHours).toBeNull();
    expect(reportMarkdown(report)).toContain('median n/a, 95th percentile n/a');
    expect(reportCsv(report)).toContain('outcome.referralrock.delete_members,deleted,1\r\n');
  });

  it('takes a month as UTC bounds, and nothing else', () => {
    expect(monthRange('2026-12')).toEqual({ from: '2026-12-01T00:00:00.000Z', to: '2027-01-01T00:00:00.000Z' });
    expect(() => monthRange('2026-13')).toThrow(RangeError);
    expect(() => monthRange('November')).toThrow(RangeError);
  });
});

describe('export CSV', () => {
  it('quotes per RFC 4180 and keeps a reference a spreadsheet would run as a formula as text', () => {
    const line = exportCsvRecord(request('er_q', { reference: '-1+1', completedAt: hoursLater(1) }));

    expect(line.split(',').slice(0, 3)).toEqual(['er_q', 'completed', "'-1+1"]);
    expect(line.endsWith('\r\n')).toBe(true);
  });

  it('keeps when a request was canceled: a cancel records canceledAt, never completedAt', () => {
    const canceledAt = hoursLater(2);
    const cells = exportCsvRecord(request('er_c', { status: 'canceled', canceledAt }))
      .trimEnd()
      .split(',');

    expect(cells[EXPORT_COLUMNS.indexOf('canceledAt')]).toBe(canceledAt);
    expect(cells[EXPORT_COLUMNS.indexOf('completedAt')]).toBe('');
  });
});

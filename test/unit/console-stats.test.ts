import { describe, expect, it } from 'vitest';
import {
  formatDuration,
  medianAndP95,
  openRequests,
  outcomesPerProvider,
  statusSeries,
  timeToComplete,
} from '../../functions/console/assets/stats.js';

const NOW = new Date('2026-11-30T12:00:00.000Z');
const request = (id: string, status: string, receivedAt: string, dueAt: string, extra: object = {}) => ({
  id,
  status,
  receivedAt,
  dueAt,
  ...extra,
});

describe("The console's overview figures", () => {
  it('takes the median as the middle (mean of the two middle values) and p95 by nearest rank', () => {
    expect(medianAndP95([])).toEqual({ count: 0 });
    expect(medianAndP95([30, 10, 20])).toEqual({ count: 3, median: 20, p95: 30 });
    expect(medianAndP95([4, 1, 3, 2])).toEqual({ count: 4, median: 2.5, p95: 4 });
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(medianAndP95(hundred)).toEqual({ count: 100, median: 50.5, p95: 95 });
  });

  it('times completed, partially completed and failed requests, not canceled or open ones', () => {
    const requests = [
      request('a', 'completed', '2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z', {
        completedAt: '2026-11-01T00:01:00Z',
      }),
      request('b', 'failed', '2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z', { completedAt: '2026-11-01T00:03:00Z' }),
      request('c', 'canceled', '2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z', { completedAt: '2026-11-01T09:00:00Z' }),
      request('d', 'processing', '2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z'),
    ];

    expect(timeToComplete(requests)).toEqual({ count: 2, median: 120_000, p95: 180_000 });
  });

  it('orders open requests by due date with whole days left, overdue ones negative, extended ones marked', () => {
    const requests = [
      request('later', 'waiting', '2026-11-20T00:00:00Z', '2026-12-10T23:59:59.999Z'),
      request('done', 'completed', '2026-10-01T00:00:00Z', '2026-11-01T23:59:59.999Z'),
      request('late', 'processing', '2026-10-20T00:00:00Z', '2026-11-27T23:59:59.999Z'),
      request('today', 'received', '2026-10-30T00:00:00Z', '2026-11-30T23:59:59.999Z', {
        extension: { reasonCode: 'complexity' },
      }),
    ];

    const open = openRequests(requests, NOW);

    expect(open.map((o) => [o.request.id, o.daysLeft, o.overdue, o.extended])).toEqual([
      ['late', -3, true, false],
      ['today', 0, false, true],
      ['later', 10, false, false],
    ]);
  });

  it('counts actions per provider, action and outcome', () => {
    const action = (provider: string, name: string, outcome: string) => ({ provider, action: name, outcome });
    const requests = [
      request('a', 'completed', '2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z', {
        actions: [
          action('referralrock', 'delete_members', 'deleted'),
          action('firstpromoter', 'delete_referrals', 'not_found'),
        ],
      }),
      request('b', 'partially_completed', '2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z', {
        actions: [action('referralrock', 'delete_members', 'failed')],
      }),
    ];

    expect(outcomesPerProvider(requests)).toEqual({
      rows: [
        { provider: 'firstpromoter', action: 'delete_referrals', outcomes: { not_found: 1 } },
        { provider: 'referralrock', action: 'delete_members', outcomes: { deleted: 1, failed: 1 } },
      ],
      outcomes: ['deleted', 'failed', 'not_found'],
    });
  });

  it('buckets by UTC day, keeping empty days, and by Monday-first week beyond 62 days', () => {
    const requests = [
      request('a', 'completed', '2026-11-02T10:00:00Z', '2026-12-02T00:00:00Z'),
      request('b', 'failed', '2026-11-02T23:00:00Z', '2026-12-02T00:00:00Z'),
      request('c', 'waiting', '2026-11-04T01:00:00Z', '2026-12-04T00:00:00Z'),
    ];

    const daily = statusSeries(requests);
    const weekly = statusSeries(requests, {
      from: new Date('2026-08-01T00:00:00Z'),
      to: new Date('2026-11-30T00:00:00Z'),
    });

    expect(daily.unit).toBe('day');
    expect(daily.buckets).toEqual([
      { start: '2026-11-02', counts: { completed: 1, failed: 1 }, total: 2 },
      { start: '2026-11-03', counts: {}, total: 0 },
      { start: '2026-11-04', counts: { waiting: 1 }, total: 1 },
    ]);
    expect(weekly.unit).toBe('week');
    expect(weekly.buckets[0]?.start).toBe('2026-07-27');
    expect(weekly.buckets.find((b) => b.total)).toEqual({
      start: '2026-11-02',
      counts: { completed: 1, failed: 1, waiting: 1 },
      total: 3,
    });
  });

  it('writes durations at the scale an auditor reads them', () => {
    expect([45_000, 720_000, 12_600_000, 363_000_000].map(formatDuration)).toEqual([
      '45 s',
      '12 min',
      '3.5 h',
      '4.2 days',
    ]);
  });
});

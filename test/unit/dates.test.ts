import { describe, expect, it } from 'vitest';
import { deadlineFor, isTimeZone } from '#shared/domain/dates';

describe('deadlineFor (GDPR Art. 12(3): one month, to the end of the day, in the controller calendar)', () => {
  it.each([
    ['2026-01-15T00:00:00.000Z', '2026-02-15T23:59:59.999Z'],
    ['2026-01-31T00:00:00.000Z', '2026-02-28T23:59:59.999Z'],
    ['2026-01-29T10:00:00.000Z', '2026-02-28T23:59:59.999Z'],
    ['2028-01-31T00:00:00.000Z', '2028-02-29T23:59:59.999Z'],
    ['2028-01-29T00:00:00.000Z', '2028-02-29T23:59:59.999Z'],
    ['2026-12-31T00:00:00.000Z', '2027-01-31T23:59:59.999Z'],
    ['2026-12-15T08:00:00.000Z', '2027-01-15T23:59:59.999Z'],
    ['2026-03-31T00:00:00.000Z', '2026-04-30T23:59:59.999Z'],
    ['2026-02-28T00:00:00.000Z', '2026-03-28T23:59:59.999Z'],
    ['2026-04-30T23:59:59.999Z', '2026-05-30T23:59:59.999Z'],
  ])('in UTC (the default) moves %s to the end of the day %s', (from, to) => {
    expect(deadlineFor(new Date(from)).toISOString()).toBe(to);
  });

  it('counts in the controller time zone: 00:30 London time on 31 March is due by the end of 30 April, BST', () => {
    // 00:30 BST on 31 March 2026 is 23:30 UTC on 30 March: in UTC the due date would be 30 April 23:30 UTC, which
    // is 1 May 00:30 in London, a day late.
    const due = deadlineFor(new Date('2026-03-30T23:30:00.000Z'), 'Europe/London');

    expect(due.toISOString()).toBe('2026-04-30T22:59:59.999Z');
  });

  it('ends 31 January London time on the last day of February, GMT', () => {
    expect(deadlineFor(new Date('2026-01-31T12:00:00.000Z'), 'Europe/London').toISOString()).toBe(
      '2026-02-28T23:59:59.999Z',
    );
  });

  it('counts the receipt day in the zone, east and west of UTC', () => {
    // 12:00 UTC on 5 March is already 6 March on Kiritimati (UTC+14) and still 5 March in Pago Pago (UTC-11).
    expect(deadlineFor(new Date('2026-03-05T12:00:00.000Z'), 'Pacific/Kiritimati').toISOString()).toBe(
      '2026-04-06T09:59:59.999Z',
    );
    expect(deadlineFor(new Date('2026-03-05T12:00:00.000Z'), 'Pacific/Pago_Pago').toISOString()).toBe(
      '2026-04-06T10:59:59.999Z',
    );
  });

  it('ends the day before a day whose midnight does not exist (clocks moved forward at 00:00)', () => {
    // Chile moves from UTC-4 to UTC-3 at 00:00 on 6 September 2026: that day starts at 01:00, i.e. 04:00 UTC.
    expect(deadlineFor(new Date('2026-08-05T12:00:00.000Z'), 'America/Santiago').toISOString()).toBe(
      '2026-09-06T03:59:59.999Z',
    );
  });

  it('does not modify the date it is given', () => {
    const received = new Date('2026-01-31T10:00:00.000Z');

    deadlineFor(received, 'Europe/London');

    expect(received.toISOString()).toBe('2026-01-31T10:00:00.000Z');
  });
});

describe('deadlineFor an extended request (Art. 12(3): two further months)', () => {
  it('counts three calendar months from receipt, to the end of the day, across a year end and short months', () => {
    expect(deadlineFor(new Date('2026-11-30T10:00:00.000Z'), 'UTC', 3).toISOString()).toBe('2027-02-28T23:59:59.999Z');
    expect(deadlineFor(new Date('2026-10-31T10:00:00.000Z'), 'UTC', 2).toISOString()).toBe('2026-12-31T23:59:59.999Z');
    expect(deadlineFor(new Date('2026-12-15T10:00:00.000Z'), 'Europe/London', 3).toISOString()).toBe(
      '2027-03-15T23:59:59.999Z',
    );
  });
});

describe('deadlineFor in UTC (read off the instant, without Intl)', () => {
  it('gives what the zone-aware path gives for Etc/UTC, the same calendar, every 13 hours for two years (every hour of the day in turn)', () => {
    // Prepare: every hour across a leap year, month ends, year ends, and the last millisecond of days
    const instants: Date[] = [];
    for (let t = Date.UTC(2027, 0, 1); t < Date.UTC(2029, 0, 1); t += 13 * 3_600_000) {
      instants.push(new Date(t), new Date(t - 1));
    }
    for (const t of [Date.UTC(2028, 1, 29, 23, 59, 59, 999), Date.UTC(2028, 0, 31, 0, 0, 0, 1)])
      instants.push(new Date(t));

    // Act
    const differing = instants.filter(
      (at) =>
        deadlineFor(at, 'UTC').getTime() !== deadlineFor(at, 'Etc/UTC').getTime() ||
        deadlineFor(at, 'UTC', 3).getTime() !== deadlineFor(at, 'Etc/UTC', 3).getTime(),
    );

    // Assess
    expect(differing).toEqual([]);
    expect(deadlineFor(new Date('2028-01-31T23:59:59.999Z'), 'UTC').toISOString()).toBe('2028-02-29T23:59:59.999Z');
  });
});

describe('isTimeZone', () => {
  it('knows IANA names and refuses others', () => {
    expect(isTimeZone('UTC')).toBe(true);
    expect(isTimeZone('Europe/London')).toBe(true);
    expect(isTimeZone('Europe/Londres')).toBe(false);
    expect(isTimeZone('')).toBe(false);
  });
});

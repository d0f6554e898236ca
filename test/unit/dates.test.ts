import { describe, expect, it } from 'vitest';
import { addOneCalendarMonth } from '#shared/domain/dates';

describe('addOneCalendarMonth', () => {
  it.each([
    ['2026-01-15T00:00:00.000Z', '2026-02-15T00:00:00.000Z'],
    ['2026-01-31T00:00:00.000Z', '2026-02-28T00:00:00.000Z'],
    ['2026-01-29T00:00:00.000Z', '2026-02-28T00:00:00.000Z'],
    ['2028-01-31T00:00:00.000Z', '2028-02-29T00:00:00.000Z'],
    ['2028-01-29T00:00:00.000Z', '2028-02-29T00:00:00.000Z'],
    ['2026-12-31T00:00:00.000Z', '2027-01-31T00:00:00.000Z'],
    ['2026-12-15T00:00:00.000Z', '2027-01-15T00:00:00.000Z'],
    ['2026-03-31T00:00:00.000Z', '2026-04-30T00:00:00.000Z'],
    ['2026-02-28T00:00:00.000Z', '2026-03-28T00:00:00.000Z'],
    ['2026-04-30T00:00:00.000Z', '2026-05-30T00:00:00.000Z'],
  ])('moves %s to %s', (from, to) => {
    expect(addOneCalendarMonth(new Date(from)).toISOString()).toBe(to);
  });

  it('keeps the UTC time of day', () => {
    expect(addOneCalendarMonth(new Date('2026-01-31T23:59:59.999Z')).toISOString()).toBe('2026-02-28T23:59:59.999Z');
    expect(addOneCalendarMonth(new Date('2026-05-10T07:08:09.010Z')).toISOString()).toBe('2026-06-10T07:08:09.010Z');
  });

  it('does not modify the date it is given', () => {
    const received = new Date('2026-01-31T10:00:00.000Z');

    addOneCalendarMonth(received);

    expect(received.toISOString()).toBe('2026-01-31T10:00:00.000Z');
  });
});

import { describe, expect, it } from 'vitest';
import { formatDuration } from '#shared/reporting/duration';
import { formatDuration as consoleFormatDuration } from '../../functions/console/assets/stats.js';

const DAY = 86_400_000;

describe('formatDuration', () => {
  it('writes each scale in a unit that does not round it away', () => {
    const cases: Array<[number, string]> = [
      [0, '0 ms'],
      [350, '350 ms'],
      [999.6, '1.0 s'],
      [4_230, '4.2 s'],
      [16_400, '16 s'],
      [59_700, '1.0 min'],
      [90_000, '1.5 min'],
      [720_000, '12 min'],
      [12_600_000, '3.5 h'],
      [DAY - 1_000, '1.0 days'],
      [363_000_000, '4.2 days'],
      [31 * DAY, '31 days'],
    ];

    expect(cases.map(([ms]) => formatDuration(ms))).toEqual(cases.map(([, text]) => text));
  });

  it('refuses what is not a duration', () => {
    expect(() => formatDuration(-1)).toThrow(RangeError);
    expect(() => formatDuration(Number.NaN)).toThrow(RangeError);
  });

  it("is the console's too: the browser's copy writes every duration the same", () => {
    // Geometric steps from 1 ms to 100 days, and each unit's edges, where rounding picks the unit.
    const sweep = Array.from({ length: 400 }, (_, i) => Math.round(10 ** (i / 40)));
    const edges = [999.4, 999.5, 9_949, 9_950, 59_499, 59_500, 599_000, 3_599_000, 3_570_000, DAY - 180_000, DAY];

    for (const ms of [...sweep, ...edges]) expect(consoleFormatDuration(ms), `${ms} ms`).toBe(formatDuration(ms));
  });
});

/** Each unit with its size in milliseconds, smallest first. */
const UNITS = [
  [1_000, 's'],
  [60_000, 'min'],
  [3_600_000, 'h'],
  [86_400_000, 'days'],
] as const;

/**
 * A duration (milliseconds) in the unit that tells it at its scale, as an auditor reads it: "350 ms", "4.2 s",
 * "45 s", "1.5 min", "12 min", "3.5 h", "4.2 days". Below 10 of a unit one decimal, else whole units; the unit is
 * chosen after rounding, so 59.7 s reads "1.0 min", never "60 s". A local erasure takes seconds, a real one hours
 * or days: no scale rounds to zero. The console's `formatDuration` (functions/console/assets/stats.js, plain
 * JavaScript for the browser) follows the same rules; test/unit/duration.test.ts holds the two together.
 * @throws RangeError for a negative or non-finite duration
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError('a duration is a finite number of milliseconds, 0 or more');
  if (Math.round(ms) < 1_000) return `${Math.round(ms)} ms`;
  for (const [index, [size, unit]] of UNITS.entries()) {
    const text = inUnit(ms / size);
    const larger = UNITS[index + 1];
    if (!larger || Number(text) * size < larger[0]) return `${text} ${unit}`;
  }
  throw new RangeError('unreachable: the last unit always answers');
}

/** One decimal below 10 (so 1.5 min is not "2 min"), whole units above (12 min, not 12.3 min). */
const inUnit = (value: number) => (value < 9.95 ? value.toFixed(1) : String(Math.round(value)));

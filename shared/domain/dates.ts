/**
 * GDPR Art. 12(3): answer "within one month of receipt". Months are counted as Regulation 1182/71 (Art. 3(2)(c))
 * counts them, in the controller's calendar: a period that starts on a day ends at the end of the day with the same
 * number one month later, or of that month's last day when it is shorter (received 31 January → due by the end of
 * 28/29 February). The controller's calendar is its time zone (`DEADLINE_TIME_ZONE`, an IANA name), so a request
 * received at 00:30 London time on 31 March is due by 23:59:59.999 London time (BST) on 30 April.
 */

/** Whether `timeZone` is an IANA time zone name this runtime knows (`UTC`, `Europe/London`, …). */
export function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

interface CalendarDay {
  year: number;
  /** 1–12 */
  month: number;
  day: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** The wall-clock reading of `epochMs` in `timeZone`, as if it were UTC (milliseconds dropped). */
function wallClock(epochMs: number, timeZone: string): { day: CalendarDay; asUtcMs: number } {
  // UTC, the default calendar, is read off the instant itself: Intl's formatToParts costs about 20 µs a call and a
  // deadline takes up to nine, on the intake's path.
  if (timeZone === 'UTC') {
    const at = new Date(epochMs);
    const day = { year: at.getUTCFullYear(), month: at.getUTCMonth() + 1, day: at.getUTCDate() };
    return { day, asUtcMs: Math.floor(epochMs / 1000) * 1000 };
  }
  const parts: Record<string, number> = {};
  for (const part of formatterFor(timeZone).formatToParts(new Date(epochMs))) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  const day = { year: parts.year ?? 0, month: parts.month ?? 1, day: parts.day ?? 1 };
  const asUtcMs = Date.UTC(day.year, day.month - 1, day.day, parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0);
  return { day, asUtcMs };
}

const sameDay = (a: CalendarDay, b: CalendarDay) => a.year === b.year && a.month === b.month && a.day === b.day;

/**
 * The first instant of calendar day `day` in `timeZone`. Midnight may not exist (a clock moved forward at 00:00), in
 * which case the day starts at the first instant after the gap; both UTC offsets in force near midnight are tried.
 */
function startOfDay(day: CalendarDay, timeZone: string): number {
  const midnightAsUtc = Date.UTC(day.year, day.month - 1, day.day);
  const offsets = new Set<number>();
  for (const probe of [midnightAsUtc - 86_400_000, midnightAsUtc, midnightAsUtc + 86_400_000]) {
    const rounded = Math.floor(probe / 1000) * 1000;
    offsets.add(wallClock(rounded, timeZone).asUtcMs - rounded);
  }
  const starts = [...offsets]
    .map((offset) => midnightAsUtc - offset)
    .filter((t) => sameDay(wallClock(t, timeZone).day, day) && !sameDay(wallClock(t - 1, timeZone).day, day))
    .sort((a, b) => a - b);
  const start = starts[0];
  if (start === undefined) throw new RangeError(`Cannot find the start of a day in ${timeZone}`);
  return start;
}

/**
 * When a request received at `receivedAt` is due: the end (the last millisecond) of the corresponding calendar day
 * `months` months later (one; three once extended under Art. 12(3)) in `timeZone`, or of that month's last day when it
 * has no such day.
 * @param timeZone an IANA time zone name (validated at start: {@link isTimeZone}); default `UTC`
 * @param months whole calendar months after receipt, 1 or more; default 1
 * @throws RangeError for an unknown time zone
 */
export function deadlineFor(receivedAt: Date, timeZone = 'UTC', months = 1): Date {
  const received = wallClock(receivedAt.getTime(), timeZone).day;
  const monthIndex = received.month - 1 + months;
  const year = received.year + Math.floor(monthIndex / 12);
  const month = (monthIndex % 12) + 1;
  const lastDay = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const due = { year, month, day: Math.min(received.day, lastDay) };
  const next = new Date(Date.UTC(due.year, due.month - 1, due.day + 1));
  const nextDay = { year: next.getUTCFullYear(), month: next.getUTCMonth() + 1, day: next.getUTCDate() };
  return new Date(startOfDay(nextDay, timeZone) - 1);
}

export function addDays(date: Date, days: number): Date {
  return new Date(date.getTime() + days * 86_400_000);
}

export const epochSeconds = (date: Date): number => Math.floor(date.getTime() / 1000);

/**
 * How far apart the clocks of two processes (two Lambda instances, a Lambda and the provider) may be when their
 * timestamps are compared: AWS keeps Lambda clocks within a millisecond or so of each other (Amazon Time Sync); half a
 * second is far beyond that and below any wait the service counts on.
 */
export const CLOCK_SKEW_MS = 500;

/**
 * Whether the instant `a` came before `b` (ISO 8601), each read from another process's clock: only if `a` is earlier by
 * more than {@link CLOCK_SKEW_MS}. Where the answer lets something end (a cancel sealed, a promoter restored), "maybe"
 * must count as "no": two readings closer than the clocks can differ give no order.
 */
export function clearlyBefore(a: string, b: string): boolean {
  return Date.parse(a) < Date.parse(b) - CLOCK_SKEW_MS;
}

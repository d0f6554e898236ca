/**
 * GDPR Art. 12(3): answer within one month of receipt. The due date is the same day of the next calendar month, or that
 * month's last day when it is shorter (31 January → 28/29 February), in UTC.
 */
export function addOneCalendarMonth(date: Date): Date {
  const year = date.getUTCFullYear();
  const month = date.getUTCMonth();
  const lastDayOfNextMonth = new Date(Date.UTC(year, month + 2, 0)).getUTCDate();
  const result = new Date(date);
  result.setUTCDate(1);
  result.setUTCMonth(month + 1);
  result.setUTCDate(Math.min(date.getUTCDate(), lastDayOfNextMonth));
  return result;
}

export function addDays(date: Date, days: number): Date {
  return new Date(date.getTime() + days * 86_400_000);
}

export const epochSeconds = (date: Date): number => Math.floor(date.getTime() / 1000);

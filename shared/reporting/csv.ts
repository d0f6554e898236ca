/**
 * One CSV record (RFC 4180): fields with a comma, quote or line break are quoted, quotes doubled; lines end CRLF.
 * A field that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) is prefixed with `'` (OWASP
 * "CSV injection"): a reference such as `-1+1` opened in a spreadsheet must stay text.
 */
export function csvRecord(fields: ReadonlyArray<string | number | boolean | null | undefined>): string {
  return `${fields.map(csvField).join(',')}\r\n`;
}

function csvField(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

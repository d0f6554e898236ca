import { createHmac } from 'node:crypto';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { Webhook } from 'standardwebhooks';
import { whyUnanswered } from './cli-args.ts';

/**
 * `npm run submit -- --file subjects.csv`: a backlog of erasure requests, one per CSV row, each signed with Standard
 * Webhooks and sent at a configured rate. CLI only (csv-parse, csv-stringify, cli-progress are devDependencies and
 * reach no Lambda bundle).
 */

/** The columns a row may have; at least one identifier column must be present. */
export const BULK_COLUMNS = ['email', 'externalId', 'reference'] as const;
type Column = (typeof BULK_COLUMNS)[number];

export interface BulkRow {
  /** The row's line number in the file (the header is line 1), as a person finds it in an editor. */
  line: number;
  fields: Partial<Record<Column, string>>;
}

export interface BulkResult {
  line: number;
  reference: string;
  /** HTTP status of the last attempt; 0 when no answer came (connection refused, timeout). */
  status: number;
  requestId: string;
  statusUrl: string;
  /** The service's error code and message (they name fields, never values), or the network error's code. */
  error: string;
}

/** Column names as people write them, mapped to the body's members. */
const ALIASES: Record<string, Column> = {
  email: 'email',
  'e-mail': 'email',
  externalid: 'externalId',
  external_id: 'externalId',
  'external-id': 'externalId',
  reference: 'reference',
};

/** Raised for a file that cannot be submitted at all; the message names the problem and never a cell's value. */
export class BulkFileError extends Error {
  override name = 'BulkFileError';
}

/**
 * Parses the CSV (RFC 4180: quoted fields, embedded commas and line breaks; a UTF-8 byte order mark and blank lines
 * are ignored). The header names the columns, in any order and case (`external_id` too).
 * @throws BulkFileError for a file without a header naming `email` or `externalId`, with an unknown column, or a
 *   row whose cell count differs from the header's (the message gives its line)
 */
export function parseBulkCsv(text: string): BulkRow[] {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, {
      bom: true,
      skip_empty_lines: true,
      trim: true,
      info: true,
      relax_column_count: false,
    }) as unknown as { record: string[]; info: { lines: number } }[];
  } catch (error) {
    // csv-parse's messages quote the offending text; keep only where it is.
    const line = (error as { lines?: number }).lines;
    throw new BulkFileError(`Not a valid CSV file${line ? ` (near line ${line})` : ''}`);
  }
  const [header, ...rows] = records;
  if (!header) throw new BulkFileError('The file is empty: expected a header row such as email,externalId,reference');
  const columns = header.record.map((name, i) => {
    const column = ALIASES[name.toLowerCase()];
    if (!column)
      throw new BulkFileError(`Unknown column ${i + 1} in the header: expected email, externalId, reference`);
    return column;
  });
  if (!columns.includes('email') && !columns.includes('externalId')) {
    throw new BulkFileError('The header names no identifier column: expected email and/or externalId');
  }
  return rows.map(({ record, info }) => {
    const fields: Partial<Record<Column, string>> = {};
    record.forEach((cell, i) => {
      const column = columns[i] as Column;
      if (cell !== '') fields[column] = cell;
    });
    return { line: info.lines, fields };
  });
}

/**
 * The row's `webhook-id`: an HMAC of its content under the webhook secret, so running the same file again (after an
 * interruption, or to retry the failed lines) sends every row with the id it had, and the service answers with the
 * request already made instead of making a second one. Keyed, because the content holds the person's identifiers.
 */
export const bulkWebhookId = (secret: string, row: BulkRow): string =>
  `bulk_${createHmac('sha256', secret)
    .update(BULK_COLUMNS.map((column) => row.fields[column] ?? '').join('\u0000'))
    .digest('hex')
    .slice(0, 32)}`;

export interface SubmitBulkOptions {
  url: string;
  secret: string;
  /** Requests started per second. */
  rate: number;
  /** Attempts per row for answers worth repeating (429, 5xx, no answer), with the same webhook-id. */
  attempts: number;
  /** Called after each row's last attempt. */
  onResult?: (result: BulkResult) => void;
  /** Waits (tests may shorten it; real waits otherwise). */
  sleep?: (ms: number) => Promise<void>;
  fetch?: typeof fetch;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const RETRYABLE = (status: number) => status === 0 || status === 429 || status >= 500;

async function submitRow(row: BulkRow, options: SubmitBulkOptions): Promise<BulkResult> {
  const body = JSON.stringify(row.fields);
  const webhookId = bulkWebhookId(options.secret, row);
  const send = options.fetch ?? fetch;
  const sleep = options.sleep ?? realSleep;
  let result: BulkResult = {
    line: row.line,
    reference: row.fields.reference ?? '',
    status: 0,
    requestId: '',
    statusUrl: '',
    error: '',
  };
  for (let attempt = 1; attempt <= options.attempts; attempt++) {
    // Signed at each attempt: a retry after a pause must still be within the 5 minutes the service accepts.
    const timestamp = new Date();
    try {
      const response = await send(`${options.url}/v1/erasure-requests`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': webhookId,
          'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
          'webhook-signature': new Webhook(options.secret).sign(webhookId, timestamp, body),
        },
        body,
        signal: AbortSignal.timeout(30_000),
      });
      const text = await response.text();
      const json = safeJson(text) as { id?: string; statusUrl?: string; error?: { code?: string; message?: string } };
      result = {
        ...result,
        status: response.status,
        requestId: json?.id ?? '',
        statusUrl: json?.statusUrl ?? '',
        error:
          response.status === 202
            ? ''
            : `${json?.error?.code ?? 'http_error'}: ${json?.error?.message ?? text.slice(0, 200)}`,
      };
    } catch (error) {
      result = { ...result, status: 0, error: `no answer: ${whyUnanswered(error)}` };
    }
    if (!RETRYABLE(result.status) || attempt === options.attempts) break;
    await sleep(500 * 2 ** (attempt - 1));
  }
  return result;
}

const safeJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/**
 * Sends every row, starting one every `1000 / rate` ms (several may be in flight while the service answers), and
 * returns the results in file order.
 */
export async function submitBulk(rows: readonly BulkRow[], options: SubmitBulkOptions): Promise<BulkResult[]> {
  const sleep = options.sleep ?? realSleep;
  const interval = 1000 / options.rate;
  const started = Date.now();
  const pending: Promise<BulkResult>[] = [];
  for (const [i, row] of rows.entries()) {
    const due = started + i * interval;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    pending.push(
      submitRow(row, options).then((result) => {
        options.onResult?.(result);
        return result;
      }),
    );
  }
  return Promise.all(pending);
}

/** The results file: one line per row, with the request id to follow it up (no identifier: only the reference). */
export const resultsCsv = (results: readonly BulkResult[]): string =>
  stringify(
    results.map((r) => [r.line, r.reference, r.status, r.requestId, r.statusUrl, r.error]),
    { header: true, columns: ['line', 'reference', 'status', 'requestId', 'statusUrl', 'error'] },
  );

/** One line: how many were accepted, how many refused by status, and how long it took. */
export function summaryOf(results: readonly BulkResult[], elapsedMs: number): string {
  const accepted = results.filter((r) => r.status === 202).length;
  const failed = new Map<string, number>();
  for (const r of results) {
    if (r.status === 202) continue;
    const key = r.status === 0 ? 'no answer' : String(r.status);
    failed.set(key, (failed.get(key) ?? 0) + 1);
  }
  const failures = [...failed].map(([status, count]) => `${count} × ${status}`).join(', ');
  return `${results.length} line(s) in ${(elapsedMs / 1000).toFixed(1)} s: ${accepted} accepted${
    failures ? `, ${results.length - accepted} not accepted (${failures})` : ''
  }`;
}

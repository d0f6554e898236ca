import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { SingleBar } from 'cli-progress';
import type { RequestSummary } from '#shared/domain/erasure-requests';
import {
  buildAccountabilityReport,
  monthRange,
  reportCsv,
  reportMarkdown,
} from '#shared/reporting/accountability-report';
import { exportCsvHeader, exportCsvRecord, exportJsonLine } from '#shared/reporting/export-rows';
import { userPath, wantsHelp, whyUnanswered } from './cli-args.ts';
import { localServiceSecret, noLocalSecret } from './secrets-file.ts';

/** A user's mistake on the command line: printed as one line, exit code 64, no stack trace. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface CliIo {
  stdout: Writable;
  stderr: Writable & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

const PROCESS_IO: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env };

interface Service {
  url: string;
  token: string;
}

/**
 * Where the API is and the audit token to read it with: `--url` / `SERVICE_URL` (default the local service), `--token`
 * / `AUDIT_TOKEN`, else the first of `AUDIT_TOKENS` in the environment or the local secrets file `npm start` keeps.
 */
async function serviceOf(values: { url?: string | undefined; token?: string | undefined }, env: NodeJS.ProcessEnv) {
  const url = (values.url ?? env.SERVICE_URL ?? `http://127.0.0.1:${env.PORT ?? 3000}`).replace(/\/$/, '');
  const given = values.token ?? env.AUDIT_TOKEN;
  const local = given ? undefined : await localServiceSecret('AUDIT_TOKENS', env);
  const token = given ?? local?.value;
  if (!token) throw new UsageError(noLocalSecret('AUDIT_TOKENS', local?.file ?? '', 'pass --token or set AUDIT_TOKEN'));
  return { url, token } satisfies Service;
}

/**
 * Every request the list route returns for `query`, page by page (`nextCursor`), oldest received first.
 * @throws Error naming the HTTP status and the API's error code when a page is refused
 */
export async function* listAll(service: Service, query: Record<string, string>): AsyncGenerator<RequestSummary[]> {
  let cursor: string | null = null;
  do {
    const params = new URLSearchParams({ ...query, limit: '500', ...(cursor ? { cursor } : {}) });
    const response = await fetch(`${service.url}/v1/erasure-requests?${params}`, {
      headers: { authorization: `Bearer ${service.token}` },
    }).catch((error: unknown) => {
      throw new Error(
        `Cannot reach ${service.url}: ${whyUnanswered(error)} (is the service running? --url or SERVICE_URL)`,
      );
    });
    const body = (await response.json().catch(() => undefined)) as
      | { requests: RequestSummary[]; nextCursor: string | null; error?: { code: string; message: string } }
      | undefined;
    if (!response.ok || !body) {
      throw new Error(
        `The service answered ${response.status}${body?.error ? ` ${body.error.code}: ${body.error.message}` : ''}`,
      );
    }
    yield body.requests;
    cursor = body.nextCursor;
  } while (cursor);
}

/** `npm run export`'s usage, printed for `--help` and after a usage error. */
export const EXPORT_USAGE = `Usage: npm run export -- --from YYYY-MM-DD [--to YYYY-MM-DD] [--format csv|jsonl] [--status s,s]
                          [--overdue true|false] [--out FILE] [--url URL] [--token AUDIT_TOKEN]`;

/** `npm run report`'s usage, printed for `--help` and after a usage error. */
export const REPORT_USAGE =
  'Usage: npm run report -- --month YYYY-MM [--out-dir DIR] [--url URL] [--token AUDIT_TOKEN]';

/** `parseArgs` whose refusals (an unknown option, a missing value) are the user's mistake: a {@link UsageError}. */
function parseCliArgs<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

const dayOrInstant = (value: string, name: string): string => {
  const date = new Date(value);
  if (Number.isNaN(date.getTime()) || !/^\d{4}-\d{2}-\d{2}/.test(value)) {
    throw new UsageError(`--${name} must be a date (YYYY-MM-DD) or an ISO 8601 instant`);
  }
  return date.toISOString();
};

const write = (stream: Writable, text: string) =>
  new Promise<void>((resolveWrite, reject) => {
    stream.write(text, (error) => (error ? reject(error) : resolveWrite()));
  });

/**
 * `npm run export -- --format csv|jsonl --from 2026-11-01 [--to 2026-12-01] [--status s,s] [--overdue true|false]
 * [--out file] [--url URL] [--token T]`: every request received in the period, one line each, to `--out` or stdout,
 * with a progress bar on stderr (the share of the period read so far, and the rows written).
 * @returns the number of requests written
 */
export async function runExport(args: string[], io: CliIo = PROCESS_IO): Promise<number> {
  if (wantsHelp(args)) {
    await write(io.stdout, `${EXPORT_USAGE}\n`);
    return 0;
  }
  const { values } = parseCliArgs({
    args,
    options: {
      format: { type: 'string', default: 'csv' },
      from: { type: 'string' },
      to: { type: 'string' },
      status: { type: 'string' },
      overdue: { type: 'string' },
      out: { type: 'string' },
      url: { type: 'string' },
      token: { type: 'string' },
    },
  });
  if (values.format !== 'csv' && values.format !== 'jsonl') throw new UsageError('--format must be csv or jsonl');
  if (!values.from) throw new UsageError('--from is required: the start of the period (YYYY-MM-DD)');
  const from = dayOrInstant(values.from, 'from');
  const to = values.to ? dayOrInstant(values.to, 'to') : new Date().toISOString();
  if (to <= from) throw new UsageError('--to must be after --from');
  const service = await serviceOf(values, io.env);
  // Written beside --out and renamed over it only once complete: a failed run leaves no file that reads as an export
  // of a period with fewer requests, and an earlier export at that path as it was.
  const target = values.out ? userPath(values.out) : undefined;
  const partial = target && `${target}.${process.pid}.partial`;
  const file =
    partial &&
    (await open(partial, 'w', 0o600).catch((error: NodeJS.ErrnoException) => {
      throw new Error(`Cannot write ${target}: ${error.code ?? error.message}`);
    }));
  const out = file ? file.createWriteStream() : io.stdout;
  const bar = new SingleBar({
    stream: io.stderr,
    format: 'Exporting |{bar}| {percentage}% of the period | {rows} requests',
    // Piped or redirected, stderr still gets a line every 2 s and the final one.
    noTTYOutput: true,
    notTTYSchedule: 2000,
    hideCursor: true,
  });
  const span = Date.parse(to) - Date.parse(from);
  bar.start(1000, 0, { rows: 0 });
  let rows = 0;
  try {
    if (values.format === 'csv') await write(out, exportCsvHeader());
    const query = {
      from,
      to,
      ...(values.status ? { status: values.status } : {}),
      ...(values.overdue ? { overdue: values.overdue } : {}),
    };
    for await (const page of listAll(service, query)) {
      for (const request of page) {
        await write(out, values.format === 'csv' ? exportCsvRecord(request) : exportJsonLine(request));
      }
      rows += page.length;
      const last = page.at(-1);
      const progress = last ? Math.floor(((Date.parse(last.receivedAt) - Date.parse(from)) / span) * 1000) : 0;
      bar.update(Math.min(999, Math.max(0, progress)), { rows });
    }
    bar.update(1000, { rows });
  } catch (error) {
    if (partial) await new Promise<void>((done) => out.end(done)).then(() => rm(partial, { force: true }));
    throw error;
  } finally {
    bar.stop();
  }
  if (partial && target) {
    await new Promise<void>((done) => out.end(done));
    await rename(partial, target);
  }
  await write(
    io.stderr,
    `${rows} request(s) received from ${from} to ${to} exported${values.out ? ` to ${values.out}` : ''}\n`,
  );
  return rows;
}

/**
 * `npm run report -- --month 2026-11 [--out-dir DIR] [--url URL] [--token T]`: the accountability report of the
 * requests received in that month (UTC), printed as Markdown and written as `accountability-report-<month>.md` and
 * `.csv` in `--out-dir` (default: the current directory).
 * @returns the paths written
 */
export async function runReport(args: string[], io: CliIo = PROCESS_IO, now = new Date()): Promise<string[]> {
  if (wantsHelp(args)) {
    await write(io.stdout, `${REPORT_USAGE}\n`);
    return [];
  }
  const { values } = parseCliArgs({
    args,
    options: {
      month: { type: 'string' },
      'out-dir': { type: 'string', default: '.' },
      url: { type: 'string' },
      token: { type: 'string' },
    },
  });
  if (!values.month) throw new UsageError('--month is required, e.g. --month 2026-12');
  let range: { from: string; to: string };
  try {
    range = monthRange(values.month);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const service = await serviceOf(values, io.env);
  const requests: RequestSummary[] = [];
  for await (const page of listAll(service, range)) requests.push(...page);
  const report = buildAccountabilityReport(values.month, requests, now);
  const dir = userPath(values['out-dir'] ?? '.');
  await mkdir(dir, { recursive: true });
  const markdown = reportMarkdown(report);
  const paths = [
    join(dir, `accountability-report-${values.month}.md`),
    join(dir, `accountability-report-${values.month}.csv`),
  ];
  await writeFile(paths[0] as string, markdown);
  await writeFile(paths[1] as string, reportCsv(report));
  await write(io.stdout, markdown);
  await write(io.stderr, `Written: ${paths.join(', ')}\n`);
  return paths;
}

/**
 * Runs a CLI entry: a usage error is one line, then `usage`, and exit code 64; a failure one line and 1.
 * @param usage the tool's usage, shown after a usage error (as `--help` shows it)
 */
export async function runCli(main: () => Promise<unknown>, usage: string): Promise<void> {
  try {
    await main();
  } catch (error) {
    const usageError = error instanceof UsageError;
    process.stderr.write(
      `${error instanceof Error ? error.message : String(error)}\n${usageError ? `${usage}\n` : ''}`,
    );
    process.exit(usageError ? 64 : 1);
  }
}

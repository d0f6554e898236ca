import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BulkFileError, bulkWebhookId, parseBulkCsv, submitBulk } from '#infra/local/bulk-submit';
import { ChildOutput } from '#test/support/child-output';
import { closedPort } from '#test/support/closed-port';
import { startTestRuntime, TEST_WEBHOOK_SECRET, type TestRuntime } from '#test/support/local-runtime';
import { thrown } from '#test/support/thrown';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** `npm run submit -- --file …` as a privacy team runs it; resolves with its exit code and output. */
async function runSubmit(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn('npm', ['run', '--silent', 'submit', '--', ...args], {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = new ChildOutput(child);
  const { code } = await output.ended;
  return { code, stdout: output.stdout, stderr: output.stderr };
}

describe('npm run submit, mistyped', () => {
  it('says an unknown option in one line with the usage and exit code 64, not a stack trace', async () => {
    const run = await runSubmit(['--emial', 'jane@example.com'], { WEBHOOK_SECRET: TEST_WEBHOOK_SECRET });

    expect(run.code).toBe(64);
    expect(run.stderr).toMatch(/^Unknown option '--emial'/);
    expect(run.stderr).toContain('Usage: npm run submit -- --email ADDRESS');
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });
});

describe('parseBulkCsv', () => {
  it('reads RFC 4180 rows by header name in any order and case, skipping blank lines and a byte order mark', () => {
    const rows = parseBulkCsv(
      '\uFEFFReference,EMAIL,external_id\r\nT-1,jane@example.com,\r\n\r\n"T,2",,"crm-1001"\r\n',
    );

    expect(rows).toEqual([
      { line: 2, fields: { reference: 'T-1', email: 'jane@example.com' } },
      { line: 4, fields: { reference: 'T,2', externalId: 'crm-1001' } },
    ]);
  });

  it.each([
    ['', /empty/],
    ['name,email\nJane,jane@example.com\n', /Unknown column 1/],
    ['reference\nT-1\n', /no identifier column/],
    ['email,reference\njane@example.com,T-1,pii.canary.extra@example.com\n', /Not a valid CSV file \(near line 2\)/],
  ])('refuses %j naming the problem, never a value', (text, message) => {
    const error = thrown(() => parseBulkCsv(text));

    expect(error).toBeInstanceOf(BulkFileError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('canary');
  });
});

describe('submitBulk', () => {
  it('repeats a 503 or an unanswered row with the same webhook-id, and not a 422', async () => {
    const rows = parseBulkCsv('email\nann@example.com\nbad\n');
    const seen: { id: string | null; body: string }[] = [];
    const answers = [503, 0, 202, 422];
    const fakeFetch = (async (_url: string, init: RequestInit) => {
      const headers = init.headers as Record<string, string>;
      seen.push({ id: headers['webhook-id'] ?? null, body: String(init.body) });
      const status = answers.shift() as number;
      if (status === 0) throw new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } });
      const json = status === 202 ? { id: 'er_1', statusUrl: 'http://x/er_1' } : { error: { code: 'e', message: 'm' } };
      return new Response(JSON.stringify(json), { status });
    }) as typeof fetch;
    const sleeps: number[] = [];

    // One at a time (rate 1/s, the sleeps recorded, not slept) so the answers are taken in order.
    const results = await submitBulk(rows.slice(0, 1), {
      url: 'http://x',
      secret: TEST_WEBHOOK_SECRET,
      rate: 1,
      attempts: 3,
      fetch: fakeFetch,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });
    const refused = await submitBulk(rows.slice(1), {
      url: 'http://x',
      secret: TEST_WEBHOOK_SECRET,
      rate: 1,
      attempts: 3,
      fetch: fakeFetch,
      sleep: async () => undefined,
    });

    expect(results[0]).toMatchObject({ line: 2, status: 202, requestId: 'er_1' });
    expect(refused[0]).toMatchObject({ line: 3, status: 422, error: 'e: m' });
    expect(seen).toHaveLength(4);
    expect(new Set(seen.slice(0, 3).map((s) => s.id))).toEqual(
      new Set([bulkWebhookId(TEST_WEBHOOK_SECRET, rows[0] as never)]),
    );
    expect(sleeps).toEqual([500, 1000]);
  });
});

describe('npm run submit -- --file', () => {
  let t: TestRuntime;
  let dir: string;

  beforeAll(async () => {
    // The workflows the 200 requests start are not the subject here: they wait out a waiting period the test never
    // reaches, one at a time, and are aborted at the end (erasing 200 subjects cost about 1 s of CPU, for nothing).
    t = await startTestRuntime({ env: { MAX_CONCURRENT_WORKFLOWS: '1', WAITING_PERIOD_SECONDS: '3600' } });
    dir = await mkdtemp(join(tmpdir(), 'bulk-submit-'));
  }, 30_000);

  afterAll(async () => {
    await t?.stop({ crash: true });
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('submits a 200-line CSV with a progress bar, a summary and a results CSV of request ids; a re-run makes no second request', async () => {
    const csv = join(dir, 'subjects.csv');
    const lines = Array.from({ length: 200 }, (_, i) =>
      i % 3 === 0 ? `,crm-bulk-${i},DSR-${i}` : `bulk.subject.${i}@example.com,,DSR-${i}`,
    );
    await writeFile(csv, `email,externalId,reference\n${lines.join('\n')}\n`);
    const env = { WEBHOOK_SECRET: TEST_WEBHOOK_SECRET, DATA_DIR: join(dir, 'unused-data') };
    const args = ['--file', csv, '--url', t.runtime.url, '--rate', '2000'];

    const first = await runSubmit(args, env);

    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/submit \[[█░]+\] 200\/200 \| 200 accepted, 0 not/);
    expect(first.stdout).toMatch(/^200 line\(s\) in [\d.]+ s: 200 accepted\nResults: .*subjects\.results\.csv\n$/);
    const results = parse(await readFile(join(dir, 'subjects.results.csv'), 'utf8'), { columns: true }) as Record<
      string,
      string
    >[];
    expect(results).toHaveLength(200);
    expect(results.map((r) => Number(r.line))).toEqual(Array.from({ length: 200 }, (_, i) => i + 2));
    expect(results.every((r) => r.status === '202' && /^er_[0-9a-f]{32}$/.test(r.requestId ?? ''))).toBe(true);
    expect(new Set(results.map((r) => r.requestId)).size).toBe(200);
    expect(results[4]).toMatchObject({ line: '6', reference: 'DSR-4' });
    // The results carry the reference and request id, not the person.
    expect(JSON.stringify(results)).not.toMatch(/bulk\.subject|crm-bulk/);
    const view = await t.get(results[0]?.requestId as string);
    expect(view.json.reference).toBe('DSR-0');

    // An interrupted load run again: its first lines, in a file of their own, get the requests already made.
    const head = join(dir, 'head.csv');
    await writeFile(head, `email,externalId,reference\n${lines.slice(0, 10).join('\n')}\n`);
    const again = await runSubmit(['--file', head, '--url', t.runtime.url, '--rate', '2000'], env);

    expect(again.code).toBe(0);
    const repeated = parse(await readFile(join(dir, 'head.results.csv'), 'utf8'), { columns: true }) as Record<
      string,
      string
    >[];
    expect(repeated.map((r) => r.requestId)).toEqual(results.slice(0, 10).map((r) => r.requestId));
  }, 60_000);

  it('says once that nothing answered, and each unanswered line once, when the service is not there', async () => {
    const csv = join(dir, 'nobody-home.csv');
    await writeFile(csv, 'email\na.subject@example.com\n');
    const url = `http://127.0.0.1:${await closedPort()}`;

    const run = await runSubmit(['--file', csv, '--url', url, '--attempts', '1'], {
      WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
    });

    expect(run.code).toBe(1);
    expect(run.stdout).toContain('  line 2: no answer: ECONNREFUSED\n');
    expect(run.stdout).toContain(`Nothing answered at ${url}: is the service running? (--url or PORT)`);
  }, 30_000);

  it('exits 1 and lists the lines the service refused, writing them to the results too', async () => {
    const csv = join(dir, 'mixed.csv');
    await writeFile(csv, 'email,reference\nok.subject@example.com,DSR-OK\nnot-an-address,DSR-BAD\n');

    const run = await runSubmit(['--file', csv, '--url', t.runtime.url, '--rate', '100'], {
      WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
    });

    expect(run.code).toBe(1);
    expect(run.stdout).toContain('2 line(s)');
    expect(run.stdout).toContain('1 accepted, 1 not accepted (1 × 422)');
    expect(run.stdout).toMatch(/line 3: 422 invalid_request: Invalid fields: email/);
    expect(run.stdout).not.toContain('not-an-address');
  }, 30_000);
});

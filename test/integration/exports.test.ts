import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runExport, runReport, UsageError } from '#infra/local/accountability-cli';
import { fetchDocumented } from '#test/support/api-document';
import { closedPort } from '#test/support/closed-port';
import { startTestRuntime, TEST_AUDIT_TOKEN, TEST_OPERATOR_TOKEN, type TestRuntime } from '#test/support/local-runtime';

// The list route, `npm run export` and `npm run report` (issue 9, item 8) end to end on the local runtime.
let t: TestRuntime;
let outDir: string;
const ids: string[] = [];

// Checked against docs/openapi.yaml like every other response the tests see.
const list = async (query: string, token = TEST_AUDIT_TOKEN) => {
  const response = await fetchDocumented(`${t.runtime.url}/v1/erasure-requests${query}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return { status: response.status, json: (await response.json()) as any };
};

const io = () => {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks = { out: '', err: '' };
  stdout.on('data', (c) => {
    chunks.out += c;
  });
  stderr.on('data', (c) => {
    chunks.err += c;
  });
  return { io: { stdout, stderr, env: { AUDIT_TOKEN: TEST_AUDIT_TOKEN } }, chunks };
};

beforeAll(async () => {
  t = await startTestRuntime();
  outDir = await mkdtemp(join(tmpdir(), 'erasure-exports-'));
  for (let i = 0; i < 5; i++) ids.push((await t.erase({ email: `export.${i}@example.com`, reference: `DSR-${i}` })).id);
}, 60_000);

afterAll(async () => {
  await t?.stop();
  await rm(outDir, { recursive: true, force: true });
});

describe('GET /v1/erasure-requests', () => {
  it('pages through every request oldest first with an opaque cursor', async () => {
    const first = await list('?limit=2');
    const second = await list(`?limit=2&cursor=${first.json.nextCursor}`);
    const third = await list(`?limit=2&cursor=${second.json.nextCursor}`);

    expect(first.status).toBe(200);
    const seen = [...first.json.requests, ...second.json.requests, ...third.json.requests].map((r: any) => r.id);
    expect(seen).toEqual(ids);
    expect(third.json.nextCursor).toBeNull();
    expect(first.json.requests[0]).toMatchObject({ status: 'completed', reference: 'DSR-0', overdue: false });
    expect(first.json.requests[0].events).toBeUndefined();
  });

  it('filters by status, overdue and received period, and refuses bad parameters', async () => {
    const received = (await t.get(ids[2] as string)).json.receivedAt;

    expect((await list('?status=completed')).json.requests).toHaveLength(5);
    expect((await list('?status=failed,canceled')).json.requests).toHaveLength(0);
    expect((await list('?overdue=true')).json.requests).toHaveLength(0);
    expect((await list(`?from=${received}`)).json.requests.map((r: any) => r.id)).toEqual(ids.slice(2));
    expect((await list(`?to=${received}`)).json.requests.map((r: any) => r.id)).toEqual(ids.slice(0, 2));
    const backwards = '?from=2026-11-02&to=2026-11-01';
    for (const bad of ['?status=done', '?overdue=yes', '?from=yesterday', '?limit=0', '?cursor=abc', backwards]) {
      expect((await list(bad)).status, bad).toBe(422);
    }
    expect((await list(backwards)).json.error.message).toBe('Invalid query: to: must be after from');
    expect((await list('', TEST_OPERATOR_TOKEN)).status).toBe(401);
  });
});

describe('npm run export', () => {
  it('writes every request of the period as CSV or JSON Lines, with a progress bar on stderr', async () => {
    const csv = io();
    const jsonl = io();
    const args = ['--from', '2000-01-01', '--url', t.runtime.url];

    expect(await runExport([...args, '--format', 'csv'], csv.io)).toBe(5);
    expect(await runExport([...args, '--format', 'jsonl', '--status', 'completed'], jsonl.io)).toBe(5);

    const lines = csv.chunks.out.trimEnd().split('\r\n');
    expect(lines[0]).toMatch(/^id,status,reference,receivedAt,dueAt,completedAt,canceledAt,overdue,/);
    expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual(ids);
    expect(
      jsonl.chunks.out
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l).id),
    ).toEqual(ids);
    expect(csv.chunks.err).toContain('100% of the period');
    expect(csv.chunks.err).toContain('5 request(s)');
    expect(csv.chunks.out).not.toContain('@example.com');
  });

  it('leaves an earlier export at --out as it was when this one fails, and says why in one line', async () => {
    const out = join(outDir, 'earlier.csv');
    await writeFile(out, 'the export of last month\n');
    const closed = await closedPort();

    const unreachable = ['--from', '2000-01-01', '--url', `http://127.0.0.1:${closed}`, '--out', out];
    const refused = ['--from', '2000-01-01', '--url', t.runtime.url, '--token', 'x'.repeat(40), '--out', out];

    await expect(runExport(unreachable, io().io)).rejects.toThrow(
      `Cannot reach http://127.0.0.1:${closed}: ECONNREFUSED (is the service running? --url or SERVICE_URL)`,
    );
    await expect(runExport(refused, io().io)).rejects.toThrow('The service answered 401 unauthorized');
    // A port fetch itself refuses to call (X11's): still said, where undici says only "fetch failed".
    await expect(
      runExport(['--from', '2000-01-01', '--url', 'http://127.0.0.1:6000', '--out', out], io().io),
    ).rejects.toThrow('Cannot reach http://127.0.0.1:6000: bad port');
    expect(await readFile(out, 'utf8')).toBe('the export of last month\n');
    expect((await readdir(outDir)).filter((name) => name.startsWith('earlier.csv'))).toEqual(['earlier.csv']);
  });

  it('says in one line that it cannot write --out, before it asks the service anything', async () => {
    const out = join(outDir, 'no-such-dir', 'x.csv');

    await expect(runExport(['--from', '2000-01-01', '--url', t.runtime.url, '--out', out], io().io)).rejects.toThrow(
      `Cannot write ${out}: ENOENT`,
    );
  });

  it('answers --help with its usage on stdout, asking the service nothing', async () => {
    const exportRun = io();
    const reportRun = io();

    await expect(runExport(['--help'], exportRun.io)).resolves.toBe(0);
    await expect(runReport(['-h'], reportRun.io)).resolves.toEqual([]);
    expect(exportRun.chunks.out).toMatch(/^Usage: npm run export -- --from YYYY-MM-DD/);
    expect(reportRun.chunks.out).toMatch(/^Usage: npm run report -- --month YYYY-MM/);
  });

  it('is a usage error (exit 64) for an option it does not know', async () => {
    await expect(runExport(['--from', '2000-01-01', '--fromm', 'x'], io().io)).rejects.toBeInstanceOf(UsageError);
  });
});

describe('npm run report', () => {
  it('writes the month as Markdown and CSV: statuses, time to complete, compliance, outcomes', async () => {
    const { io: cli, chunks } = io();
    const month = (await t.get(ids[0] as string)).json.receivedAt.slice(0, 7);

    const paths = await runReport(['--month', month, '--out-dir', outDir, '--url', t.runtime.url], cli);

    const markdown = await readFile(paths[0] as string, 'utf8');
    const csv = await readFile(paths[1] as string, 'utf8');
    expect(chunks.out).toBe(markdown);
    expect(markdown).toContain('| completed | 5 |');
    expect(markdown).toContain('| **compliance** | **100.0 %** |');
    expect(markdown).toMatch(/\| referralrock \| delete_members \| 0 \| 0 \| 5 \|/);
    expect(csv).toContain('status,completed,5\r\n');
    expect(csv).toContain('deadline,compliance,1\r\n');
    expect(csv).toMatch(/timeToComplete,medianHours,\d/);
  });
});

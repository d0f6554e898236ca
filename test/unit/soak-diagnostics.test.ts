import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { taskFailuresOf } from '#bench/soak/diagnostics';

/** What a failing soak run shows of a request that did not complete: its failed tasks, with the restarts between. */

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

const line = (fields: Record<string, unknown>) => JSON.stringify({ level: 'WARN', message: 'Task failed', ...fields });

describe('taskFailuresOf', () => {
  it("lists a request's failed tasks in order, with the restarts from the one before its first failure", async () => {
    dir = await mkdtemp(join(tmpdir(), 'soak-diagnostics-'));
    const log = join(dir, 'service.log');
    await writeFile(
      log,
      [
        '===== start 1 at 2026-11-30T18:45:42.657Z =====',
        line({ timestamp: 't1', task: 'archivePromoters', correlation_id: 'er_other', errorName: 'X' }),
        '===== start 2 at 2026-11-30T18:45:51.287Z =====',
        line({
          timestamp: 't2',
          task: 'startFirstPromoterReferralDeletion',
          correlation_id: 'er_a',
          errorName: 'ProviderUnavailableError',
          errorMessage: 'FirstPromoter referrals.delete: unavailable: ECONNRESET',
        }),
        JSON.stringify({
          level: 'INFO',
          message: 'Task completed',
          correlation_id: 'er_a',
          task: 'pollFirstPromoterBatch',
        }),
        'not json',
        '===== start 3 at 2026-11-30T18:45:58.594Z =====',
        line({
          timestamp: 't3',
          task: 'settleFirstPromoterAction',
          correlation_id: 'er_a',
          errorName: 'TimeoutError',
          errorMessage: 'cut off',
        }),
        '===== start 4 at 2026-11-30T18:46:00.885Z =====',
      ].join('\n'),
    );

    const found = await taskFailuresOf(log, ['er_a', 'er_none']);

    expect(found.er_a).toEqual([
      { at: '2026-11-30T18:45:51.287Z', task: 'restart 2', error: '' },
      {
        at: 't2',
        task: 'startFirstPromoterReferralDeletion',
        error: 'ProviderUnavailableError: FirstPromoter referrals.delete: unavailable: ECONNRESET',
      },
      { at: '2026-11-30T18:45:58.594Z', task: 'restart 3', error: '' },
      { at: 't3', task: 'settleFirstPromoterAction', error: 'TimeoutError: cut off' },
      { at: '2026-11-30T18:46:00.885Z', task: 'restart 4', error: '' },
    ]);
    expect(found.er_none).toEqual([]);
  });

  it('returns an empty list for each request when the log is missing', async () => {
    expect(await taskFailuresOf('/nonexistent/service.log', ['er_a'])).toEqual({ er_a: [] });
  });
});

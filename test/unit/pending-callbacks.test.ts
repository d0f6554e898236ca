import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PendingCallbacks } from '#infra/local/pending-callbacks';
import { CALLBACK_ASL_PATH, retrySpanMs } from '#infra/local/workflow-engine';

const ID = `er_${'a'.repeat(32)}`;
const dirs: string[] = [];

afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe('pending callbacks on disk', () => {
  it('keeps the first scheduling time of a request scheduled twice: its day of retries counts from it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pending-callbacks-'));
    dirs.push(dir);
    const pending = new PendingCallbacks(dir);

    await pending.add(ID, new Date('2026-06-01T10:00:00Z'));
    await pending.add(ID, new Date('2026-06-01T10:05:00Z'));

    expect(await pending.list()).toEqual([ID]);
    expect((await pending.scheduledAt(ID))?.toISOString()).toBe('2026-06-01T10:00:00.000Z');
    await pending.remove(ID);
    expect(await pending.scheduledAt(ID)).toBeUndefined();
  });

  it('counts the day of retries from the callback state machine itself, as Step Functions spaces them', () => {
    // 1, 2, 4, 8, 16, 32 minutes, then 23 hourly: 24 h 03 min.
    expect(retrySpanMs(CALLBACK_ASL_PATH, 'DeliverCallbacks', 'CallbackNotDeliveredError')).toBe(
      (63 + 23 * 60) * 60_000,
    );
    // Shortened as the local engine shortens them: each pause the first interval times the scale.
    expect(retrySpanMs(CALLBACK_ASL_PATH, 'DeliverCallbacks', 'CallbackNotDeliveredError', 0.001)).toBe(29 * 60);
  });
});

import { describe, expect, it } from 'vitest';
import { summarizeBatch } from '#shared/domain/batch';
import type { Batch } from '#shared/ports/providers';

function batch(overrides: Partial<Batch>): Batch {
  return {
    id: 7,
    status: 'completed',
    total: 10,
    selected_total: 10,
    processed_count: 10,
    failed_count: 0,
    action_label: 'referral/delete',
    created_at: '2023-11-07T05:31:56Z',
    updated_at: '2023-11-07T05:31:56Z',
    meta: {},
    progress: 100,
    processing_errors: [],
    ...overrides,
  };
}

describe('summarizeBatch', () => {
  it.each([
    ['pending', 'running'],
    ['in_progress', 'running'],
    ['failed', 'failed'],
    ['stopped', 'stopped'],
  ] as const)('maps status %s to %s', (status, state) => {
    expect(summarizeBatch(batch({ status })).state).toBe(state);
  });

  it('calls a completed batch without failures completed, carrying its counts', () => {
    expect(summarizeBatch(batch({ id: 42, total: 8, processed_count: 8 }))).toEqual({
      batchId: 42,
      state: 'completed',
      total: 8,
      processed: 8,
      failed: 0,
      errorCount: 0,
    });
  });

  it('calls a completed batch with failed items partial', () => {
    const summary = summarizeBatch(batch({ failed_count: 2, processing_errors: ['Referral 1 not found', 'x'] }));

    expect(summary).toMatchObject({ state: 'partial', failed: 2, errorCount: 2 });
  });

  it('calls a completed batch partial on processing errors alone, even with failed_count 0', () => {
    expect(summarizeBatch(batch({ processing_errors: ['Referral 1 not found'] })).state).toBe('partial');
  });

  it('calls a completed batch partial on failed_count alone, even without processing errors', () => {
    expect(summarizeBatch(batch({ failed_count: 1 })).state).toBe('partial');
  });

  it('counts processing errors without carrying their text, which may name people', () => {
    const summary = summarizeBatch(
      batch({ status: 'failed', failed_count: 1, processing_errors: ['Could not delete jane@example.com'] }),
    );

    expect(summary.errorCount).toBe(1);
    expect(JSON.stringify(summary)).not.toContain('jane@example.com');
  });
});

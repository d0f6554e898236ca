import type { Batch, BatchState, BatchSummary } from '#shared/ports/providers';

/**
 * Classifies a FirstPromoter batch for the workflow. A `completed` batch with failures is `partial`: FirstPromoter reports
 * per-item failures inside a completed batch, and an erasure that skipped someone's record is not a success.
 * The processing errors are only counted, because their text may name the people whose records failed.
 */
export function summarizeBatch(batch: Batch): BatchSummary {
  return {
    batchId: batch.id,
    state: batchState(batch),
    total: batch.total,
    processed: batch.processed_count,
    failed: batch.failed_count,
    errorCount: batch.processing_errors.length,
  };
}

function batchState(batch: Batch): BatchState {
  switch (batch.status) {
    case 'pending':
    case 'in_progress':
      return 'running';
    case 'completed':
      return batch.failed_count > 0 || batch.processing_errors.length > 0 ? 'partial' : 'completed';
    case 'failed':
      return 'failed';
    case 'stopped':
      return 'stopped';
  }
}

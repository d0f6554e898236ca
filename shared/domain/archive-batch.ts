import type { Batch, FirstPromoterPort } from '#shared/ports/providers';
import { summarizeBatch } from './batch.ts';
import type { ErasureRequest } from './model.ts';

/**
 * The batch of the archive a request sent, while the request's record of the promoters is still the archive's: more
 * than 5 promoters are archived by an asynchronous batch, whose id the archive step records with its outcome. None
 * once a restore replaced the record (its batch id is the restore's): that restore ran after the archive batch ended.
 */
export function archiveBatchOf(request: ErasureRequest): number | undefined {
  const record = request.actions['firstpromoter.promoters'];
  return record?.outcome === 'restored' ? undefined : record?.batchId;
}

/**
 * Asks FirstPromoter (`GET /batch_processes/{id}`, one poll: the state machine and the sweeper come back, a Lambda never
 * sleeps) whether an archive batch is still `pending` or `in_progress`. A cancel's restore waits for it: restored while
 * it runs, the promoters would be archived again when it completes, under a request recorded as canceled and restored.
 * @returns the batch while it runs; undefined once it ended (whatever its outcome) or when FirstPromoter no longer
 *   knows it (nothing of it can still land)
 * @throws the poll's error when FirstPromoter could not answer (the cancel stays unfinished for the sweeper)
 */
export async function runningArchiveBatch(
  firstPromoter: Pick<FirstPromoterPort, 'getBatch'>,
  batchId: number | undefined,
): Promise<Batch | undefined> {
  if (batchId === undefined) return undefined;
  try {
    const batch = await firstPromoter.getBatch(batchId);
    return summarizeBatch(batch).state === 'running' ? batch : undefined;
  } catch (error) {
    if (error instanceof Error && error.name === 'BatchNotFoundError') return undefined;
    throw error;
  }
}

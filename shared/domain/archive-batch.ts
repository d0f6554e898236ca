import type { AuditLog, Clock, RequestRepository } from '#shared/ports/audit';
import type { Batch, FirstPromoterPort } from '#shared/ports/providers';
import { summarizeBatch } from './batch.ts';
import { ACTIONS, type ErasureRequest } from './model.ts';
import { promotersOf } from './same-subject.ts';
import { redact } from './subject.ts';

/** Ids FirstPromoter archives or restores before it answers (`200 completed`); more start a batch that runs on. */
const SYNCHRONOUS_IDS = 5;

/**
 * Sends an archive or a restore of promoters five ids at a time (PROVIDER-APIS.md: up to 5 ids FirstPromoter completes
 * before it answers), so what follows sees its effect: a search that judges it, a check of who holds the promoters now,
 * a re-archive. Above 5 ids it would be a batch running on, which could still end failed, or land after a later
 * archive or restore of the same promoters (batches keep no order).
 * @returns FirstPromoter's answer to each call, in order
 * @throws the first call's error that failed (the ids before it were sent)
 */
export async function inFives(
  send: (ids: readonly number[]) => Promise<Batch>,
  ids: readonly number[],
): Promise<Batch[]> {
  const batches: Batch[] = [];
  for (let from = 0; from < ids.length; from += SYNCHRONOUS_IDS) {
    batches.push(await send(ids.slice(from, from + SYNCHRONOUS_IDS)));
  }
  return batches;
}

/**
 * The batch of the archive a request sent, while the request's record of the promoters is still the archive's: should
 * FirstPromoter answer an archive call (five ids at most) with a batch still running, the archive step records its id
 * with its outcome, and a restore waits for it. None
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

/**
 * Whether the request's archive batch still runs at FirstPromoter, which the restore must wait for (it would be undone
 * when the batch completes): the cancel then stays `canceling`, says why once (`promoters.restore_waiting`), and the
 * sweeper's next run, or the archive step itself, restores once the batch ended.
 * @throws FirstPromoter's error when it could not say (recorded as a failed restore, so the sweeper tries again)
 */
export async function awaitingArchiveBatch(
  deps: {
    audit: Pick<AuditLog, 'append'>;
    clock: Clock;
    requests: Pick<RequestRepository, 'recordAction'>;
    firstPromoter: Pick<FirstPromoterPort, 'getBatch'>;
  },
  request: ErasureRequest,
  actor: string,
  batchId: number | undefined,
): Promise<boolean> {
  const key = 'firstpromoter.promoters' as const;
  let running: Awaited<ReturnType<typeof runningArchiveBatch>>;
  try {
    running = await runningArchiveBatch(deps.firstPromoter, batchId);
  } catch (error) {
    const reason = error instanceof Error ? redact(error.message) : 'unknown error';
    const failed = {
      ...ACTIONS[key],
      outcome: 'failed' as const,
      count: promotersOf(request).length,
      ...(batchId === undefined ? {} : { batchId }),
      errors: [`restore waits for archive batch ${batchId}, which could not be polled (retried hourly): ${reason}`],
      updatedAt: deps.clock.now().toISOString(),
    };
    // The batch id stays on the record, so the next try polls the same batch.
    await deps.requests.recordAction(request.id, key, failed, { whileIn: ['canceling'], unlessOutcome: 'restored' });
    throw error;
  }
  if (!running) return false;
  await deps.audit.append(request.id, {
    type: 'promoters.restore_waiting',
    actor,
    key: 'promoters.restore_waiting',
    data: { provider: 'firstpromoter', batchId: running.id, batchStatus: running.status },
  });
  return true;
}

/**
 * Where the restore a cancel sent last stands at FirstPromoter (`GET /batch_processes/{id}`, one poll). A restore of
 * more than 5 promoters is an asynchronous batch too, which can still end `failed`, `stopped` or partly failed: the
 * cancel ends only once it completed, else it would record promoters restored that FirstPromoter holds archived.
 * @returns `running` while its batch runs; `completed` once it completed without failures; undefined when there is no
 *   restore batch to follow, or it has to be sent again (it failed, stopped, partly failed, or FirstPromoter no longer
 *   knows it: restoring again is idempotent)
 * @throws the poll's error when FirstPromoter could not answer (the cancel stays unfinished for the sweeper)
 */
export async function restoreBatchState(
  firstPromoter: Pick<FirstPromoterPort, 'getBatch'>,
  request: ErasureRequest,
): Promise<'running' | 'completed' | undefined> {
  const record = request.actions['firstpromoter.promoters'];
  if (record?.outcome !== 'restored' || record.batchId === undefined) return undefined;
  try {
    const { state } = summarizeBatch(await firstPromoter.getBatch(record.batchId));
    return state === 'running' || state === 'completed' ? state : undefined;
  } catch (error) {
    if (error instanceof Error && error.name === 'BatchNotFoundError') return undefined;
    throw error;
  }
}

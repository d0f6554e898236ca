import type { RequestRepository } from '#shared/ports/audit';
import type { ActionKey, ActionOutcome, ActionRecord, ErasureRequest, Identity, ReadBackProof } from '../model.ts';
import { OPEN_STATUSES } from '../model.ts';
import { searchedFormCount } from '../search-forms.ts';
import { redact } from '../subject.ts';
import { retryWithinWindow, type StepRetry } from './retry-window.ts';
import { identityOf, load, type RequestTaskDeps, record, type TaskDeps } from './task-context.ts';

/**
 * The read-back: every outcome of a provider action is decided by searching again, not by what the provider answered.
 * A remove that answered 404 because a concurrent request had already deleted the records, a batch that is gone, a
 * timeout after the provider acted: the records no longer found are erased; only those still found make `failed` or
 * `partial`. The steps use it after acting, after a batch ends, and (through `settleAction`) whenever a step ended
 * abnormally, for every action of both providers.
 */

export interface ReadBackVerdict {
  outcome: ActionOutcome;
  /** Records acted on (gone now); for `failed`, the records still found. */
  count: number;
  /** Records of the subject still found by the search. */
  remaining: number;
  /** The subject's records this action is about: those it planned to act on and those found now. */
  total: number;
}

/**
 * Judges an action by a search made after it: the planned ids and those found now are the subject's records; those
 * found now are not erased (or not archived), whatever the provider answered. `done` is the outcome of success.
 */
export function judgeByReadBack(
  planned: ReadonlyArray<string | number>,
  foundNow: ReadonlyArray<string | number>,
  done: 'deleted' | 'archived',
): ReadBackVerdict {
  const remaining = new Set(foundNow.map(String));
  const total = new Set([...planned.map(String), ...remaining]).size;
  const gone = total - remaining.size;
  const outcome: ActionOutcome =
    total === 0 ? 'not_found' : remaining.size === 0 ? done : gone > 0 ? 'partial' : 'failed';
  return { outcome, count: outcome === 'failed' ? total : gone, remaining: remaining.size, total };
}

/**
 * The proof a read-back leaves on its action: when the search returned, how many identifier forms it covered, how many
 * of the subject's records it still found, and the outcome recorded from it.
 * @param stillFound the subject's records of the action found by the search (a verdict's `remaining`)
 */
export function readBackProof(
  identity: Identity,
  stillFound: number,
  outcome: ActionOutcome,
  checkedAt: Date,
): ReadBackProof {
  return { checkedAt: checkedAt.toISOString(), formsSearched: searchedFormCount(identity), stillFound, outcome };
}

/** What Step Functions' Catch puts in `ResultPath`: the error name and its cause (our messages carry no identifiers). */
export interface StepError {
  Error?: string;
  Cause?: string;
}

export interface FailureInput {
  requestId: string;
  action: ActionKey;
  /** What ended the step. */
  error?: StepError;
  /** What ended the read-back, when even that could not run (the last resort, `recordActionFailure`). */
  readBackError?: StepError;
  /**
   * The workflow's state as the step's Catch left it (non-personal: ids, counts, errors): what the settle task answered
   * last time, if it sent a step back (`settle`: the action and where its retry window counts from), or if it was
   * itself deferred (`settle.retryAfterSeconds`).
   */
  state?: { settle?: Partial<StepRetry> & { retryAfterSeconds?: number } };
}

/**
 * A non-personal summary of what ended a step: the error's name and our own message (provider errors carry the
 * provider, the operation and the HTTP status, never the provider's text), redacted anyway.
 */
export function describeStepError(error: StepError | undefined): string {
  const name = error?.Error ?? 'Error';
  const reason = causeMessage(error?.Cause);
  return redact(reason ? `${name}: ${reason}` : name);
}

function causeMessage(cause: string | undefined): string | undefined {
  if (!cause) return undefined;
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // Not JSON: the cause is the message itself.
  }
  return cause;
}

export interface SettleOptions {
  /** Searches the provider for the subject's records of this action still there (for promoters: still active). */
  search: (identity: Identity, request: ErasureRequest) => Promise<Array<string | number>>;
  done: 'deleted' | 'archived';
  /** Provider name for the note, e.g. `FirstPromoter`. */
  providerLabel: string;
  /**
   * Asked when the search still finds records, before they are recorded as not erased: a step retry here sends the
   * workflow back to the step instead (what the step started may still act on them, e.g. a batch still running);
   * `'ended'` says what the step started was found ended, maybe after the search, which is then made again so the
   * outcome is judged by a search after that end (the search before it may have found what the end deleted).
   */
  whileStillFound?: (request: ErasureRequest) => Promise<StepRetry | 'ended' | undefined>;
  /** Writes the outcome; by default the action record (guarded while the request is open) and its event. */
  write?: (
    request: ErasureRequest,
    fields: Omit<ActionRecord, 'provider' | 'action' | 'updatedAt'>,
  ) => Promise<{ outcome: ActionOutcome; count: number }>;
}

/**
 * Records the outcome of an action whose step ended abnormally (the state machine's Catch: an error status, retries
 * exhausted, a timeout, a batch gone), decided by a read-back, with a note of what the step ended with. Idempotent: an
 * outcome already recorded stands. A request no longer open is left to whoever closes it (finalize or the cancel).
 * A step that failed for a reason a later try may clear, within the retry window since its first such failure, is
 * not settled: the answer ({@link StepRetry}) sends the workflow back to the step after a wait (`retry-window.ts`).
 * A search that fails throws, so the state machine retries it, and records the failure unverified only at the end.
 */
export async function settleAction(
  deps: Pick<TaskDeps, 'clock' | 'cipher' | 'retryWindowSeconds'> & {
    requests: Pick<RequestRepository, 'get' | 'recordAction'>;
  },
  input: FailureInput,
  options: SettleOptions,
): Promise<{ outcome: ActionOutcome; count: number } | StepRetry> {
  const request = await load(deps, input.requestId);
  const key = input.action;
  const existing = request.actions[key];
  if (existing && existing.outcome !== 'pending') return { outcome: existing.outcome, count: existing.count };
  if (!OPEN_STATUSES.includes(request.status)) return { outcome: 'skipped', count: 0 };
  const retry = retryWithinWindow(
    key,
    input.error?.Error,
    input.state?.settle,
    deps.clock.now(),
    deps.retryWindowSeconds ?? 0,
  );
  if (retry) return retry;

  const planned = request.plans?.[key]?.ids ?? [];
  const identity = identityOf(deps, request);
  let verdict = judgeByReadBack(planned, await options.search(identity, request), options.done);
  if (verdict.remaining > 0) {
    const following = await options.whileStillFound?.(request);
    if (following === 'ended') {
      verdict = judgeByReadBack(planned, await options.search(identity, request), options.done);
    } else if (following) return following;
  }
  const checkedAt = deps.clock.now();
  const answered = `the step ended with ${describeStepError(input.error)}`;
  const fields = {
    outcome: verdict.outcome,
    count: verdict.count,
    verification: readBackProof(identity, verdict.remaining, verdict.outcome, checkedAt),
    ...(existing?.batchId === undefined ? {} : { batchId: existing.batchId }),
    ...(verdict.remaining > 0
      ? {
          errors: [
            answered,
            `${verdict.remaining} of ${verdict.total} record(s) still found at ${options.providerLabel} by a search afterwards`,
          ],
        }
      : {
          notes: [
            answered,
            verdict.total === 0
              ? `a search afterwards found no record of the subject at ${options.providerLabel}`
              : `a search afterwards found none of the ${verdict.total} record(s) left at ${options.providerLabel}`,
          ],
        }),
  };
  return options.write ? options.write(request, fields) : record(deps, request, key, fields);
}

/**
 * The last resort, when even the read-back could not run (the provider kept failing, or refused the credentials):
 * records `failed`, unverified, with what ended the step and the read-back. The other branches carry on.
 */
export async function recordActionFailure(deps: RequestTaskDeps, input: FailureInput) {
  const request = await load(deps, input.requestId);
  const existing = request.actions[input.action];
  if (existing && existing.outcome !== 'pending') return { outcome: existing.outcome, count: existing.count };
  return record(deps, request, input.action, {
    outcome: 'failed',
    // The records it had found, if it got that far: what remains to be erased, as far as is known.
    count: existing?.count ?? request.plans?.[input.action]?.ids.length ?? 0,
    ...(existing?.batchId === undefined ? {} : { batchId: existing.batchId }),
    errors: [
      describeStepError(input.error),
      ...(input.readBackError
        ? [`not verified: the search afterwards ended with ${describeStepError(input.readBackError)}`]
        : []),
    ],
  });
}

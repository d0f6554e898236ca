/**
 * The retry window: a provider step that keeps failing for a reason a later try may clear is run again for a span of
 * time, not for a number of tries. The state machine's own Retry is a handful of quick tries, and failures do not
 * come one at a time: a provider having a bad few minutes, or a starved machine whose calls all time out, fails every
 * try of such a burst, after which a read-back would record the person's records as not erased though a try an hour
 * later would have erased them. Within the window the step's Catch sends the workflow back to the step after a wait
 * (free in a Standard workflow); past it, or for a failure no retry can clear (a refusal, rejected credentials), the
 * read-back decides the outcome.
 */

/**
 * Errors a later try may clear: the provider's outage or throttling, the task cut off by its time, Lambda's own, and
 * DynamoDB's throttling, internal errors and transaction conflicts (the step's own writes). The same as the state
 * machine's Retry of the provider steps (test/unit/asl-deferral.test.ts keeps the two together).
 */
const TRANSIENT = new Set([
  'ProviderUnavailableError',
  'ProviderRateLimitError',
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'InternalServerError',
  'RequestLimitExceeded',
  'TransactionConflictException',
  'TimeoutError',
  'States.Timeout',
  'Sandbox.Timedout',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.Unknown',
]);

/** The longest wait before the step runs again: a provider back up is found within it. */
const MAX_WAIT_SECONDS = 300;

/**
 * Sends-back of one action a window allows, at the most (beside the first doubling ones): each costs some 30 events of
 * the execution's history (the step's tries, its settle task, the Choice and the Wait), Step Functions fails a
 * Standard execution at 25,000 events and cannot redrive it then, and four actions may each have a window in one
 * execution (the archive, then the three branches at once). A window longer than this many {@link MAX_WAIT_SECONDS}
 * waits (8 h 20 min) waits longer between tries instead of trying more often.
 */
export const MAX_SENDS_BACK_PER_WINDOW = 100;

/** What a step's settle task answers to send the workflow back to the step after `retryStepAfterSeconds`. */
export interface StepRetry {
  retryStepAfterSeconds: number;
  /** When the action's step first failed in this run of the workflow (ISO 8601): where the window counts from. */
  failingSince: string;
  /** The action it is about: the state the next settle task reads may be another action's (the archive's). */
  action: string;
}

/**
 * Whether the step that ended with `errorName` goes back for another run rather than be settled now, and after how
 * long: as long as it has been failing (so the waits double), at least 1 s, at most a tenth of the window and
 * {@link MAX_WAIT_SECONDS} (or, for a window longer than {@link MAX_SENDS_BACK_PER_WINDOW} such waits, a
 * hundredth of it, so the execution history stays bounded), and never past the window's end.
 * @param action the action whose step failed (`ActionKey`)
 * @param previous what the last settle task of the workflow answered: a {@link StepRetry} if it sent a step back, or
 *   `{ retryAfterSeconds }` if it was itself deferred (its search waiting for a rate-budget slot or a Retry-After)
 * @param windowSeconds PROVIDER_RETRY_WINDOW_SECONDS; 0: never
 * @returns undefined when the failure is settled now (not transient, or the window has passed)
 */
export function retryWithinWindow(
  action: string,
  errorName: string | undefined,
  previous: (Partial<StepRetry> & { retryAfterSeconds?: number }) | undefined,
  now: Date,
  windowSeconds: number,
): StepRetry | undefined {
  if (windowSeconds <= 0 || !errorName || !TRANSIENT.has(errorName)) return undefined;
  // The settle task runs again after its own deferral: it had decided to settle (only a search is deferred), and its
  // answer replaced the one that carried `failingSince`, so counting again from now would restart the window, without
  // end for a step whose provider keeps the rate budget short. (A deferral never reaches another action's settle
  // task: the state machine's failure records, which end a settle loop by its Catch, replace it.)
  if (previous?.retryAfterSeconds !== undefined) return undefined;
  const failingSince = previous?.action === action ? previous.failingSince : undefined;
  const since = failingSince && !Number.isNaN(Date.parse(failingSince)) ? new Date(failingSince) : now;
  const elapsedSeconds = Math.max(0, (now.getTime() - since.getTime()) / 1000);
  const leftSeconds = windowSeconds - elapsedSeconds;
  if (leftSeconds < 1) return undefined;
  const longest = Math.max(
    1,
    Math.min(MAX_WAIT_SECONDS, Math.floor(windowSeconds / 10)),
    Math.ceil(windowSeconds / MAX_SENDS_BACK_PER_WINDOW),
  );
  const wait = Math.min(Math.max(1, Math.ceil(elapsedSeconds)), longest, Math.floor(leftSeconds));
  return { retryStepAfterSeconds: wait, failingSince: since.toISOString(), action };
}

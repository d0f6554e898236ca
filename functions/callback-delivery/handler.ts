import type { Logger } from '@aws-lambda-powertools/logger';
import { type CallbackDeps, deliverCallbacks, recordCallbacksFailed } from '#shared/callbacks/delivery';
import { createLogger } from '#shared/observability';
import { taskHandler } from '#shared/workflow/task-handler';

/** The callback state machine's function: `deliverCallbacks`, then `recordCallbacksFailed` after the last retry. */
export const makeHandler = (deps: CallbackDeps, logger: Logger = createLogger('callback-delivery')) =>
  taskHandler(logger, { deliverCallbacks, recordCallbacksFailed }, deps);

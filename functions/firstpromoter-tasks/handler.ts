import { type FirstPromoterTaskDeps, firstPromoterTasks } from '#shared/domain/workflow-tasks';
import { createLogger } from '#shared/observability';
import { taskHandler } from '#shared/workflow/task-handler';

/** Workflow steps at FirstPromoter: archive promoters, delete referrals, poll the deletion batch. */
export const makeHandler = (deps: FirstPromoterTaskDeps, logger = createLogger('firstpromoter-tasks')) =>
  taskHandler(logger, firstPromoterTasks, deps);

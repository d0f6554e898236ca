import { type RequestTaskDeps, requestTasks } from '#shared/domain/workflow-tasks';
import { createLogger } from '#shared/observability';
import { taskHandler } from '#shared/workflow/task-handler';

/** Workflow steps that touch only the audit store: load, begin, record a failure, finalize. */
export const makeHandler = (deps: RequestTaskDeps, logger = createLogger('request-tasks')) =>
  taskHandler(logger, requestTasks, deps);

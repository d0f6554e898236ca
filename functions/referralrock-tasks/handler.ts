import { type ReferralRockTaskDeps, referralRockTasks } from '#shared/domain/workflow-tasks';
import { createLogger } from '#shared/observability';
import { taskHandler } from '#shared/workflow/task-handler';

/** Workflow steps at Referral Rock: erase the subject's members and their own referrals. */
export const makeHandler = (deps: ReferralRockTaskDeps, logger = createLogger('referralrock-tasks')) =>
  taskHandler(logger, referralRockTasks, deps);

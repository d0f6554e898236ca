import { pollFirstPromoterBatch, startFirstPromoterReferralDeletion } from './workflow/firstpromoter-referrals.ts';
import { archivePromoters, settleFirstPromoterAction } from './workflow/firstpromoter-steps.ts';
import { recordActionFailure } from './workflow/read-back.ts';
import {
  eraseReferralRockMembers,
  eraseReferralRockReferrals,
  settleReferralRockAction,
} from './workflow/referralrock-steps.ts';
import { beginErasure, finalizeRequest, loadRequest, remainingWait } from './workflow/request-steps.ts';

/**
 * The steps of the erasure workflow, by the function that runs them. The steps live in `workflow/`: request steps
 * (audit store only), Referral Rock steps, FirstPromoter steps (the referral delete apart), and the read-back that decides their outcomes.
 */
export * from './workflow/firstpromoter-referrals.ts';
export * from './workflow/firstpromoter-steps.ts';
export * from './workflow/read-back.ts';
export * from './workflow/referralrock-steps.ts';
export * from './workflow/request-steps.ts';
export * from './workflow/task-context.ts';

/** The tasks each workflow function runs, by the `task` name the state machine passes. */
export const requestTasks = { loadRequest, remainingWait, beginErasure, recordActionFailure, finalizeRequest };
export const referralRockTasks = { eraseReferralRockMembers, eraseReferralRockReferrals, settleReferralRockAction };
export const firstPromoterTasks = {
  archivePromoters,
  startFirstPromoterReferralDeletion,
  pollFirstPromoterBatch,
  settleFirstPromoterAction,
};

import type { Logger } from '@aws-lambda-powertools/logger';
import type { CallbackScheduler } from '#shared/callbacks/delivery';
import { type CancelRequestOperations, cancelErasureRequest, type RequestDeps } from '#shared/domain/erasure-requests';
import { NotFoundError } from '#shared/errors';
import { apiHandler, json, requireBearer } from '#shared/http/api';
import { createLogger } from '#shared/observability';
import type { RequestRepository } from '#shared/ports/audit';
import type { ReceiptIssuer } from '#shared/ports/evidence';
import type { FirstPromoterPort } from '#shared/ports/providers';

/** No identity key: a cancel destroys the stored identity without reading it. */
export interface CancelRequestDeps extends Pick<RequestDeps, 'audit' | 'clock' | 'workflow'> {
  /** Of the requests store, what a cancel runs. */
  requests: CancelRequestOperations & Pick<RequestRepository, 'transitionWithEvents'>;
  firstPromoter: FirstPromoterPort;
  /** Completion callbacks, started when the cancel ends the request. */
  callbacks?: CallbackScheduler;
  /** Who may cancel. */
  operatorTokens: readonly string[];
  /** Known only to answer an auditor's cancel with 403 rather than 401. */
  auditTokens: readonly string[];
  /** Issues the canceled request's receipt before it is set `canceled`. */
  receipts?: ReceiptIssuer;
}

/**
 * `POST /v1/erasure-requests/{id}/cancel`, for operators (an audit token is refused with 403): only while
 * received/waiting; restores what the request archived.
 */
export const makeHandler = (deps: CancelRequestDeps, logger: Logger = createLogger('cancel-request')) =>
  apiHandler(logger, async (event) => {
    const actor = requireBearer(event, deps.operatorTokens, { role: 'operator', otherRoleTokens: deps.auditTokens });
    const id = event.pathParameters?.id;
    if (!id) throw new NotFoundError();
    const view = await cancelErasureRequest(deps, id, actor);
    // The chain head at the cancel, kept in this log apart from the tables: the anchor an auditor checks the trail
    // against. A cancel still `canceling` (its restore is pending) is ended, and anchored, by the sweeper.
    const head = view.events.at(-1);
    logger.info(view.status === 'canceled' ? 'Erasure request canceled' : 'Erasure request cancel under way', {
      requestId: id,
      actor,
      status: view.status,
      chainHead: head ? { seq: head.seq, hash: head.hash } : null,
    });
    return json(200, view);
  });

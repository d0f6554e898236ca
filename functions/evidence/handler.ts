import type { Logger } from '@aws-lambda-powertools/logger';
import {
  latestTreeHead,
  type ReceiptReadDeps,
  readReceipt,
  receiptJwks,
  treeConsistency,
} from '#shared/domain/receipts';
import { NotFoundError } from '#shared/errors';
import { apiHandler, json, requireBearer } from '#shared/http/api';
import { createLogger } from '#shared/observability';

export interface EvidenceDeps extends ReceiptReadDeps {
  auditTokens: readonly string[];
}

/**
 * The evidence an auditor checks without trusting the service: a request's receipt (`GET
 * /v1/erasure-requests/{id}/receipt`), the transparency log's latest signed head (`GET /v1/log/tree-head`) and
 * consistency proofs (`GET /v1/log/consistency`), all for audit tokens; and the public keys (`GET
 * /.well-known/jwks.json`), for anyone. Read-only: receipts are issued when requests end, never here.
 */
export const makeHandler = (deps: EvidenceDeps, logger: Logger = createLogger('evidence')) =>
  apiHandler(logger, async (event) => {
    if (event.routeKey === 'GET /.well-known/jwks.json') {
      // RFC 7517 §8.5; cacheable: keys are only ever added, and a retired key stays listed.
      return json(200, await receiptJwks(deps), {
        'content-type': 'application/jwk-set+json',
        'cache-control': 'public, max-age=300',
      });
    }
    const actor = requireBearer(event, deps.auditTokens);
    switch (event.routeKey) {
      case 'GET /v1/erasure-requests/{id}/receipt': {
        const id = event.pathParameters?.id;
        if (!id) throw new NotFoundError();
        const bundle = await readReceipt(deps, id);
        logger.info('Receipt read', { requestId: id, actor, leafIndex: bundle.transparencyLog.leafIndex });
        return json(200, bundle);
      }
      case 'GET /v1/log/tree-head':
        return json(200, await latestTreeHead(deps));
      case 'GET /v1/log/consistency': {
        const query = event.queryStringParameters ?? {};
        return json(200, await treeConsistency(deps, query.from, query.to));
      }
      default:
        throw new NotFoundError(`No route ${event.routeKey}`);
    }
  });

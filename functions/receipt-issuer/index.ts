import { KMSClient } from '@aws-sdk/client-kms';
import { KmsSigner } from '#shared/adapters/signing/kms-signer';
import { bindRequestOperations, createRequestsTable, getRequest } from '#shared/composition/requests';
import {
  createAuditLog,
  createDocumentClient,
  createTransparencyLog,
  receiptIssuerName,
} from '#shared/composition/stores';
import { loadSections, required } from '#shared/config/environment';
import { receipts, service, storage } from '#shared/config/sections';
import { systemClock } from '#shared/ports/audit';
import { makeHandler } from './handler.ts';

const config = await loadSections(
  (env) => ({ ...storage(env), ...receipts(env), ...service(env) }),
  // No secret resolver: the function reads no secret (FUNCTION_SECRETS in infra/erasure-stack.ts), so a
  // <NAME>_SECRET_ARN given to it by mistake is refused at start rather than read.
  process.env,
);
const db = createDocumentClient(config);

// No S3 client here: the head this signs is published by the tree-head-publisher function, the receipt state
// machine's next Task (least privilege, and a cold start without the S3 client's 131 KiB).
export const handler = makeHandler({
  requests: bindRequestOperations(createRequestsTable(config, db), { get: getRequest }),
  audit: createAuditLog(config, db),
  clock: systemClock,
  log: createTransparencyLog(config, db),
  signer: new KmsSigner(new KMSClient({}), required(config.receipts.kmsKeyId, 'RECEIPT_KMS_KEY_ID')),
  issuer: receiptIssuerName(config),
});

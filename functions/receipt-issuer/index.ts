import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { S3TreeHeadPublisher } from '#shared/adapters/publishing/s3-tree-heads';
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

export const handler = makeHandler({
  requests: bindRequestOperations(createRequestsTable(config, db), { get: getRequest }),
  audit: createAuditLog(config, db),
  clock: systemClock,
  log: createTransparencyLog(config, db),
  signer: new KmsSigner(new KMSClient({}), required(config.receipts.kmsKeyId, 'RECEIPT_KMS_KEY_ID')),
  publisher: new S3TreeHeadPublisher(new S3Client({}), required(config.receipts.treeHeadsBucket, 'TREE_HEADS_BUCKET')),
  issuer: receiptIssuerName(config),
});

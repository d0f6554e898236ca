import { S3Client } from '@aws-sdk/client-s3';
import { S3TreeHeadPublisher } from '#shared/adapters/publishing/s3-tree-heads';
import { loadSections, required } from '#shared/config/environment';
import { receipts } from '#shared/config/sections';
import { makeHandler } from './handler.ts';

const config = await loadSections(
  (env) => receipts(env),
  // No secret resolver and no table: the function reads no secret (FUNCTION_SECRETS in infra/erasure-stack.ts) and
  // only puts objects to the tree heads bucket.
  process.env,
);

export const handler = makeHandler({
  publisher: new S3TreeHeadPublisher(new S3Client({}), required(config.receipts.treeHeadsBucket, 'TREE_HEADS_BUCKET')),
});

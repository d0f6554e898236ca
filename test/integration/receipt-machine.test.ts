import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHandler as receiptIssuer } from '#functions/receipt-issuer/handler';
import { makeHandler as treeHeadPublisher } from '#functions/tree-head-publisher/handler';
import { lambdaContext } from '#infra/local/lambda-context';
import { RECEIPT_ASL_PATH, syncWorkflow } from '#infra/local/workflow-engine';
import { DynamoTransparencyLog } from '#shared/adapters/dynamodb/transparency-log';
import { S3TreeHeadPublisher, treeHeadObjectKey } from '#shared/adapters/publishing/s3-tree-heads';
import { generateReceiptSigningKey, KeySigner } from '#shared/adapters/signing/key-signer';
import { createDocumentClient } from '#shared/composition';
import { SealedRequests } from '#test/support/receipt-fixtures';
import { startTestDynamo, type TestDynamo } from '#test/support/test-dynamo';

/**
 * The receipt state machine (receipt.asl.json) with its two functions' handlers: the receipt issuer signs and appends,
 * the tree head publisher puts the head to an Object Lock bucket (an S3 stand-in on loopback that keeps every version
 * and answers 412 to a put `If-None-Match: *` of a key it holds, as S3 does). The execution succeeds only once the head
 * is published; a failed publication fails it, and running it again publishes the same head, once.
 */

let dynamo: TestDynamo;
let s3: Server;
/** Versions per object key, as a versioned bucket keeps them. */
const versions = new Map<string, string[]>();
/** Puts refused with 403, as a bucket policy or a missing grant would. */
let refusePuts = 0;
let endpoint: string;

beforeAll(async () => {
  dynamo = await startTestDynamo();
  s3 = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const key = decodeURIComponent(new URL(req.url ?? '/', 'http://s3').pathname).replace(
        /^\/tree-heads-bucket\//,
        '',
      );
      const xmlError = (status: number, code: string) =>
        res
          .writeHead(status, { 'Content-Type': 'application/xml' })
          .end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code}</Message></Error>`);
      if (req.method !== 'PUT') return xmlError(405, 'MethodNotAllowed');
      if (refusePuts > 0) {
        refusePuts -= 1;
        return xmlError(403, 'AccessDenied');
      }
      if (req.headers['if-none-match'] === '*' && versions.has(key)) return xmlError(412, 'PreconditionFailed');
      versions.set(key, [...(versions.get(key) ?? []), Buffer.concat(chunks).toString('utf8')]);
      res.writeHead(200, { ETag: '"e"' }).end();
    });
  });
  await new Promise<void>((resolve) => s3.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(s3.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await dynamo.stop();
  await new Promise((resolve) => s3.close(resolve));
});

let tables = 0;
async function receiptMachine() {
  tables += 1;
  const table = `receipt-machine-log-${tables}`;
  await dynamo.ensureTables({ transparencyLog: table });
  const log = new DynamoTransparencyLog(createDocumentClient({ dynamoDbEndpoint: undefined }, dynamo.client), table);
  const sealed = new SealedRequests();
  const issue = receiptIssuer({
    ...sealed.stores,
    clock: { now: () => new Date() },
    log,
    signer: new KeySigner(generateReceiptSigningKey()),
    issuer: 'https://erasure.example',
  });
  const client = new S3Client({
    region: 'eu-west-1',
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  const publish = treeHeadPublisher({ publisher: new S3TreeHeadPublisher(client, 'tree-heads-bucket') });
  const run = syncWorkflow(RECEIPT_ASL_PATH, {
    ReceiptIssuerFunctionArn: (event) => issue(event, lambdaContext('receipt-issuer', 4_000)),
    TreeHeadPublisherFunctionArn: (event) => publish(event, lambdaContext('tree-head-publisher', 2_000)),
  });
  return { run, sealed, log };
}

describe('the receipt state machine', () => {
  it('issues the receipt, then publishes its head; a failed publication fails the execution, a retry publishes it once', async () => {
    const { run, sealed, log } = await receiptMachine();
    const id = `er_${'1'.padStart(32, '0')}`;
    sealed.add(id);

    refusePuts = 1;
    await expect(run({ requestId: id })).rejects.toThrow();
    // The receipt is in the log, its head not yet published: the caller sees the execution fail and retries it.
    expect(await log.treeSize()).toBe(1);
    expect(versions.get(treeHeadObjectKey(1))).toBeUndefined();

    expect(await run({ requestId: id })).toEqual({ treeSize: 1 });
    const head = await log.getTreeHead(1);
    expect(versions.get(treeHeadObjectKey(1))).toEqual([JSON.stringify({ treeSize: 1, treeHead: head?.jws })]);

    // Run again (a caller's retry after a lost answer): the same head, answered 412, no second version.
    expect(await run({ requestId: id })).toEqual({ treeSize: 1 });
    expect(versions.get(treeHeadObjectKey(1))).toHaveLength(1);
    expect(await log.treeSize()).toBe(1);
  });

  it('publishes only a head signed for the size it is published under', async () => {
    const publish = treeHeadPublisher({ publisher: { publish: async () => undefined } });
    const { log, sealed, run } = await receiptMachine();
    const id = `er_${'2'.padStart(32, '0')}`;
    sealed.add(id);
    await run({ requestId: id });
    const head = (await log.latestTreeHead())?.jws as string;

    const answer = (treeSize: number, treeHead: string) =>
      publish({ task: 'publishTreeHead', input: { treeSize, treeHead } }, lambdaContext('tree-head-publisher', 2_000));
    await expect(answer(2, head)).rejects.toMatchObject({ name: 'ValidationError' });
    await expect(answer(1, 'not-a-jws')).rejects.toMatchObject({ name: 'ValidationError' });
    await expect(answer(1, head)).resolves.toEqual({ treeSize: 1 });
  });
});

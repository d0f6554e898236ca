import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpdateCommand } from '#shared/adapters/dynamodb/document-client';
import { DynamoTransparencyLog } from '#shared/adapters/dynamodb/transparency-log';
import { FileTreeHeadPublisher } from '#shared/adapters/publishing/file-tree-heads';
import { generateReceiptSigningKey, KeySigner } from '#shared/adapters/signing/key-signer';
import { createDocumentClient } from '#shared/composition';
import {
  issueReceipt,
  latestTreeHead,
  publishTreeHead,
  readReceipt,
  receiptJwks,
  treeConsistency,
} from '#shared/domain/receipts';
import { leafHash } from '#shared/evidence/merkle';
import { type ReceiptBundle, ReceiptNotReadyError } from '#shared/evidence/receipt';
import { checkConsistency, checkReceipt } from '#shared/evidence/verify';
import { SealedRequests } from '#test/support/receipt-fixtures';
import { startTestDynamo, type TestDynamo } from '#test/support/test-dynamo';

/**
 * The receipt issuer against the DynamoDB log (dynalite): concurrent finishing requests each get one leaf, every receipt
 * is proven against a signed head, a retry returns the receipt already signed, and published heads are consistent.
 * (The receipt state machine's publication of heads is in receipt-machine.test.ts.)
 */

let dynamo: TestDynamo;
let dir: string;
let tableNo = 0;
const signer = new KeySigner(generateReceiptSigningKey());

beforeAll(async () => {
  dynamo = await startTestDynamo();
  dir = await mkdtemp(join(tmpdir(), 'transparency-log-'));
});
afterAll(async () => {
  await dynamo.stop();
  await rm(dir, { recursive: true, force: true });
});

async function freshLog() {
  tableNo += 1;
  const table = `transparency-log-${tableNo}`;
  await dynamo.ensureTables({ transparencyLog: table });
  const log = new DynamoTransparencyLog(createDocumentClient({ dynamoDbEndpoint: undefined }, dynamo.client), table);
  const sealed = new SealedRequests();
  const headsFile = join(dir, `${table}.jsonl`);
  const deps = {
    ...sealed.stores,
    clock: { now: () => new Date() },
    log,
    signer,
    issuer: 'https://erasure.example',
  };
  return { log, sealed, deps, publisher: new FileTreeHeadPublisher(headsFile), headsFile, table };
}

const ids = (n: number) => Array.from({ length: n }, (_, i) => `er_${String(i).padStart(32, '0')}`);

describe('issuing receipts into the transparency log', () => {
  it('gives each of many requests finishing at once its own leaf, each receipt proven against a signed head', async () => {
    const { log, sealed, deps } = await freshLog();
    const requestIds = ids(8);
    for (const id of requestIds) sealed.add(id);

    const bundles = await Promise.all(requestIds.map((id) => issueReceipt(deps, id)));

    expect(bundles.map((b) => b.transparencyLog.leafIndex).sort((a, b) => a - b)).toEqual([...Array(8).keys()]);
    expect(await log.treeSize()).toBe(8);
    const jwks = await receiptJwks(deps);
    for (const bundle of bundles) {
      const { checks } = await checkReceipt(bundle, jwks);
      expect(checks.filter((c) => !c.ok)).toEqual([]);
    }
  });

  it('signs a receipt once: issued again, or concurrently, it is the same receipt at the same leaf', async () => {
    const { log, sealed, deps } = await freshLog();
    const [id] = ids(1) as [string];
    sealed.add(id);

    const concurrent = await Promise.all([issueReceipt(deps, id), issueReceipt(deps, id), issueReceipt(deps, id)]);
    const again = await issueReceipt(deps, id);

    expect(new Set(concurrent.map((b) => b.receipt)).size).toBe(1);
    expect(again).toEqual(concurrent[0]);
    expect(await readReceipt(deps, id)).toEqual(again);
    expect(await log.treeSize()).toBe(1);
  });

  it('refuses to issue for a request whose trail has not ended, and stores nothing', async () => {
    const { log, sealed, deps } = await freshLog();
    const [id] = ids(1) as [string];
    sealed.add(id, { sealed: false });

    await expect(issueReceipt(deps, id)).rejects.toBeInstanceOf(ReceiptNotReadyError);
    expect(await log.getReceipt(id)).toBeUndefined();
    await expect(readReceipt(deps, id)).rejects.toMatchObject({ statusCode: 404 });
  });

  it('states the facts of the request with the pseudonym only, for a canceled request too', async () => {
    const { sealed, deps } = await freshLog();
    const [done, canceled] = ids(2) as [string, string];
    sealed.add(done, { status: 'partially_completed', extended: true });
    sealed.add(canceled, { status: 'canceled' });

    const bundles = [await issueReceipt(deps, done), await issueReceipt(deps, canceled)];
    const jwks = await receiptJwks(deps);
    const first = await checkReceipt(bundles[0] as ReceiptBundle, jwks);
    const second = await checkReceipt(bundles[1] as ReceiptBundle, jwks);

    expect(first.claims).toMatchObject({
      requestId: done,
      status: 'partially_completed',
      subject: { pseudonym: `pseudonym-of-${done}`, identifiers: ['email'] },
      withinDeadline: true,
      actions: [{ provider: 'referralrock', outcome: 'deleted', verification: { stillFound: 0 } }],
      extension: {
        extendedAt: expect.any(String),
        months: 2,
        reasonCode: 'complexity',
        previousDueAt: '2026-12-01T23:59:59.999Z',
        dueAt: '2027-02-01T23:59:59.999Z',
      },
      chainHead: { seq: 4, hash: sealed.events.get(done)?.at(-1)?.hash },
    });
    // The extension's free-text note may name someone: never in a receipt.
    expect(JSON.stringify(first.claims)).not.toContain('Jane Roe');
    expect(second.claims).toMatchObject({ requestId: canceled, status: 'canceled' });
  });

  it('publishes every signed head, serves the latest, and proves the heads consistent', async () => {
    const { sealed, deps, publisher, headsFile } = await freshLog();
    const requestIds = ids(5);
    for (const id of requestIds) {
      sealed.add(id);
      // As the receipt state machine does: the issuer's head, then its publication.
      await publishTreeHead({ publisher }, (await issueReceipt(deps, id)).transparencyLog);
    }
    const published = (await readFile(headsFile, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { treeSize: number; treeHead: string });
    const latest = await latestTreeHead(deps);
    const first = published[0] as { treeSize: number; treeHead: string };

    expect(published.map((h) => h.treeSize)).toEqual([1, 2, 3, 4, 5]);
    expect(latest.treeSize).toBe(5);
    const { consistencyProof } = await treeConsistency(deps, '1', '5');
    const checks = await checkConsistency(first.treeHead, latest.treeHead, consistencyProof, await receiptJwks(deps));
    expect(checks).toEqual([expect.objectContaining({ name: 'consistency', ok: true })]);
    // Said as the list route says its query's faults: the parameter, and what it must be.
    await expect(treeConsistency(deps, '2', '6')).rejects.toMatchObject({
      statusCode: 422,
      message: "Invalid query: to: must not exceed the log's size (5)",
    });
    await expect(treeConsistency(deps, 'x', '2')).rejects.toMatchObject({
      statusCode: 422,
      message: "Invalid query: from: must be a tree size, a whole number from 0 to the log's size (5)",
    });
    await expect(treeConsistency(deps, undefined, '2')).rejects.toMatchObject({
      message: "Invalid query: from: must be a tree size, a whole number from 0 to the log's size (5)",
    });
    await expect(treeConsistency(deps, '3', '2')).rejects.toMatchObject({
      message: 'Invalid query: from: must not exceed to',
    });
  });

  it('appends a receipt with one read and one write of the log', async () => {
    const { sealed, deps, table } = await freshLog();
    const [first, second] = ids(2) as [string, string];
    sealed.add(first);
    sealed.add(second);
    await issueReceipt(deps, first);
    const sent: string[] = [];
    const counted = new DynamoTransparencyLog(countingClient(sent), table);

    const bundle = await issueReceipt({ ...deps, log: counted }, second);

    expect(sent).toEqual(['BatchGetItem', 'TransactWriteItems']);
    expect(bundle.transparencyLog).toMatchObject({ leafIndex: 1, treeSize: 2 });
    expect(await readReceipt(deps, second)).toEqual(bundle);
    const { checks } = await checkReceipt(bundle, await receiptJwks(deps));
    expect(checks.filter((c) => !c.ok)).toEqual([]);
  });

  it("asks for the signer's key while the log is read, not after (KMS's first answer overlaps the read)", async () => {
    const { sealed, deps } = await freshLog();
    const [id] = ids(1) as [string];
    sealed.add(id);
    const calls: string[] = [];
    const signerWatched = {
      publicJwk: () => {
        calls.push('publicJwk');
        return signer.publicJwk();
      },
      sign: (signingInput: Uint8Array) => signer.sign(signingInput),
    };
    const state = async (requestId: string) => {
      const read = await deps.log.state(requestId);
      calls.push('log read');
      return read;
    };
    const logWatched = new Proxy(deps.log, {
      get: (log, name) => {
        if (name === 'state') return state;
        const value = Reflect.get(log, name);
        return typeof value === 'function' ? value.bind(log) : value;
      },
    });

    const bundle = await issueReceipt({ ...deps, signer: signerWatched, log: logWatched }, id);

    expect(calls.indexOf('publicJwk')).toBeLessThan(calls.indexOf('log read'));
    const { checks } = await checkReceipt(bundle, await receiptJwks(deps));
    expect(checks.filter((c) => !c.ok)).toEqual([]);
  });

  it('continues a tree stored before its frontier was kept, with proofs consistent across the two', async () => {
    const { sealed, deps, table } = await freshLog();
    const requestIds = ids(6);
    for (const id of requestIds) sealed.add(id);
    for (const id of requestIds.slice(0, 3)) await issueReceipt(deps, id);
    const before = await latestTreeHead(deps);
    // As an earlier version kept it: the size, no frontier.
    await rawClient().send(
      new UpdateCommand({ TableName: table, Key: { key: 'tree' }, UpdateExpression: 'REMOVE frontier' }),
    );

    const later = await Promise.all(requestIds.slice(3).map((id) => issueReceipt(deps, id)));

    const latest = await latestTreeHead(deps);
    expect(latest.treeSize).toBe(6);
    const jwks = await receiptJwks(deps);
    for (const bundle of later) expect((await checkReceipt(bundle, jwks)).checks.filter((c) => !c.ok)).toEqual([]);
    const { consistencyProof } = await treeConsistency(deps, String(before.treeSize), '6');
    expect(await checkConsistency(before.treeHead, latest.treeHead, consistencyProof, jwks)).toEqual([
      expect.objectContaining({ name: 'consistency', ok: true }),
    ]);
  });

  it('appends again, as signed, a receipt whose write was cut off before the tree moved', async () => {
    const { sealed, deps, table, log } = await freshLog();
    const [first, cut, other] = ids(3) as [string, string, string];
    for (const id of [first, cut, other]) sealed.add(id);
    await issueReceipt(deps, first);
    // What a local transaction cut off after its first items leaves: the receipt (leaf 1) and its leaf, the tree at 1.
    const stranded = await issueReceipt(deps, cut);
    await rawClient().send(
      new UpdateCommand({
        TableName: table,
        Key: { key: 'tree' },
        UpdateExpression: 'SET #s = :one, frontier = :frontier, latestHead = :one',
        ExpressionAttributeNames: { '#s': 'size' },
        ExpressionAttributeValues: { ':one': 1, ':frontier': [leafHashOf(await readReceipt(deps, first))] },
      }),
    );
    // Another request takes leaf 1 meanwhile, writing over the stranded leaf.
    await issueReceipt(deps, other);

    const again = await issueReceipt(deps, cut);

    expect(again.receipt).toBe(stranded.receipt);
    expect(again.transparencyLog).toMatchObject({ leafIndex: 2, treeSize: 3 });
    expect(await log.treeSize()).toBe(3);
    const jwks = await receiptJwks(deps);
    expect((await checkReceipt(again, jwks)).checks.filter((c) => !c.ok)).toEqual([]);
  });
});

function rawClient() {
  return createDocumentClient({ dynamoDbEndpoint: undefined }, dynamo.client);
}

/** A document client whose commands are recorded by name. */
function countingClient(sent: string[]) {
  const client = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  client.middlewareStack.add(
    (next, context) => (args) => {
      sent.push(String(context.commandName).replace(/Command$/, ''));
      return next(args);
    },
    { step: 'initialize' },
  );
  return createDocumentClient({ dynamoDbEndpoint: undefined }, client);
}

const leafHashOf = (bundle: ReceiptBundle) => leafHash(Buffer.from(bundle.receipt, 'ascii')).toString('hex');

import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { base64url } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoTransparencyLog } from '#shared/adapters/dynamodb/transparency-log';
import { FileTreeHeadPublisher } from '#shared/adapters/publishing/file-tree-heads';
import { generateReceiptSigningKey, KeySigner } from '#shared/adapters/signing/key-signer';
import { createDocumentClient } from '#shared/composition';
import { laneChainId } from '#shared/domain/chain';
import { toView } from '#shared/domain/erasure-requests';
import type { ErasureRequest } from '#shared/domain/model';
import { issueReceipt, latestTreeHead, publishTreeHead, receiptJwks, treeConsistency } from '#shared/domain/receipts';
import type { ReceiptBundle } from '#shared/evidence/receipt';
import { chain } from '#test/support/lane-trail';
import { SealedRequests } from '#test/support/receipt-fixtures';
import { startTestDynamo, type TestDynamo } from '#test/support/test-dynamo';

/**
 * `npm run verify`, run as an auditor runs it, on files and URLs: an untouched receipt passes; a tampered receipt, a
 * wrong key, a receipt missing from the log, an inconsistent pair of tree heads and a deleted request are each detected.
 */

const run = promisify(execFile);
const script = new URL('../../infra/local/verify.ts', import.meta.url).pathname;
let dynamo: TestDynamo;
let dir: string;
let server: Server;
let baseUrl: string;
const signer = new KeySigner(generateReceiptSigningKey());
const sealed = new SealedRequests();
const requestIds = Array.from({ length: 4 }, (_, i) => `er_${String(i + 1).padStart(32, 'a')}`);
const target = requestIds[1] as string;
let bundle: ReceiptBundle;
let jwks: unknown;
let honest: Awaited<ReturnType<typeof makeLog>>;
let rewritten: Awaited<ReturnType<typeof makeLog>>;

async function makeLog(table: string, include: readonly string[]) {
  await dynamo.ensureTables({ transparencyLog: table });
  const log = new DynamoTransparencyLog(createDocumentClient({ dynamoDbEndpoint: undefined }, dynamo.client), table);
  const deps = {
    ...sealed.stores,
    clock: { now: () => new Date() },
    log,
    signer,
    issuer: 'https://erasure.example',
  };
  const publisher = new FileTreeHeadPublisher(join(dir, `${table}.jsonl`));
  const bundles = new Map<string, ReceiptBundle>();
  for (const id of include) {
    const bundle = await issueReceipt(deps, id);
    // Published as the receipt state machine's second Task publishes it.
    await publishTreeHead({ publisher }, bundle.transparencyLog);
    bundles.set(id, bundle);
  }
  return { deps, bundles };
}

async function save(name: string, content: unknown): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

async function verify(...args: string[]) {
  return run(process.execPath, [script, ...args]).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({
      code: error.code,
      stdout: error.stdout,
      stderr: error.stderr,
    }),
  );
}

beforeAll(async () => {
  dynamo = await startTestDynamo();
  dir = await mkdtemp(join(tmpdir(), 'verify-receipt-'));
  // The target's trail has a lane, as every erasure's now has: the receipt's head commits to it through the seal.
  for (const id of requestIds) sealed.add(id, { lanes: id === target });
  honest = await makeLog('honest-log', requestIds);
  // The same key, the same receipts, but the log rebuilt without the target's: what deleting a request from the log
  // and re-signing would give.
  rewritten = await makeLog(
    'rewritten-log',
    requestIds.filter((id) => id !== target),
  );
  bundle = honest.bundles.get(target) as ReceiptBundle;
  jwks = await receiptJwks(honest.deps);
  // The status views a service would answer: the target's untouched, any other id deleted (404).
  server = createServer((req, res) => {
    const [path, query] = (req.url ?? '').split('?');
    const id = path?.split('/')[3];
    const request = id === target ? sealed.requests.get(target) : undefined;
    // `?lane=cut`: the view of a trail whose lane lost its event after the receipt was signed.
    const lanes = query === 'lane=cut' ? {} : (sealed.lanes.get(target) ?? {});
    const view = request && toView(request as ErasureRequest, sealed.events.get(target) ?? [], new Date(), [], lanes);
    // `?lane=twice`: a view that lists a lane twice, a self-consistent forged trail before the one the seal names.
    if (view && query === 'lane=twice') {
      const chainId = laneChainId(target, 'referralrock.members');
      const forged = chain(chainId, [['action.recorded', { key: 'referralrock.members', outcome: 'not_found' }]]);
      view.lanes = [{ lane: 'referralrock.members', chainId, events: forged }, ...(view.lanes ?? [])];
    }
    res.writeHead(request ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(view ?? { error: { code: 'not_found', message: 'No such erasure request' } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await dynamo.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('npm run verify', () => {
  it('passes an untouched receipt, against its view and a later head of the same log', async () => {
    const receipt = await save('receipt.json', bundle);
    const keys = await save('jwks.json', jwks);
    const head = await save('head.json', await latestTreeHead(honest.deps));
    const proof = await save(
      'proof.json',
      await treeConsistency(honest.deps, String(bundle.transparencyLog.treeSize), String(requestIds.length)),
    );

    const result = await verify(
      '--receipt',
      receipt,
      '--jwks',
      keys,
      '--view',
      `${baseUrl}/v1/erasure-requests/${target}`,
      '--tree-head',
      head,
      '--consistency',
      proof,
    );

    expect(result.stdout).toMatch(/^PASS receipt signature: request er_/m);
    expect(result.stdout).toContain('PASS events chain: 3 event(s) (1 lane(s), each ending where the seal says)');
    for (const check of [
      'tree head signature',
      'inclusion',
      'events chain',
      'chain head',
      'view agrees',
      'still in the log',
    ]) {
      expect(result.stdout).toContain(`PASS ${check}`);
    }
    expect(result.stdout).not.toContain('FAIL');
    expect(result.code).toBe(0);
  });

  it("detects a lane of the trail cut after the receipt: the seal the receipt's head names commits to it", async () => {
    const receipt = await save('receipt-lane.json', bundle);
    const keys = await save('jwks-lane.json', jwks);

    const cut = await verify(
      '--receipt',
      receipt,
      '--jwks',
      keys,
      '--view',
      `${baseUrl}/v1/erasure-requests/${target}?lane=cut`,
    );

    expect(cut.code).toBe(1);
    expect(cut.stdout).toContain(
      'FAIL events chain: lane referralrock.members does not end at the head the sealing event #2 commits to',
    );
    expect(cut.stdout).toContain('PASS chain head');
  });

  it('detects a view that lists a lane twice: one listing would be checked, the other shown', async () => {
    const receipt = await save('receipt-twice.json', bundle);
    const keys = await save('jwks-twice.json', jwks);

    const twice = await verify(
      '--receipt',
      receipt,
      '--jwks',
      keys,
      '--view',
      `${baseUrl}/v1/erasure-requests/${target}?lane=twice`,
    );

    expect(twice.code).toBe(1);
    expect(twice.stdout).toContain('FAIL events chain: the view lists lane referralrock.members more than once');
  });

  it('detects a tampered receipt', async () => {
    const [header, payload, signature] = bundle.receipt.split('.') as [string, string, string];
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload)));
    claims.status = 'completed';
    claims.actions[0].outcome = 'not_found';
    const forged = `${header}.${base64url.encode(JSON.stringify(claims))}.${signature}`;

    const result = await verify(
      '--receipt',
      await save('tampered.json', { ...bundle, receipt: forged }),
      '--jwks',
      await save('jwks.json', jwks),
    );

    expect(result.code).toBe(1);
    expect(result.stdout).toContain('FAIL receipt signature');
    expect(result.stdout).toContain('FAIL inclusion');
    expect(result.stdout).toContain('NOT VERIFIED');
  });

  it('detects a receipt signed with another key than the published ones', async () => {
    const other = new KeySigner(generateReceiptSigningKey());
    const otherJwks = { keys: [await other.publicJwk()] };

    const result = await verify(
      '--receipt',
      await save('receipt.json', bundle),
      '--jwks',
      await save('other.json', otherJwks),
    );

    expect(result.code).toBe(1);
    expect(result.stdout).toContain('FAIL receipt signature');
    expect(result.stdout).toContain('FAIL tree head signature');
  });

  it('detects a receipt missing from the log: the log now served is not an extension of the receipt’s', async () => {
    const current = await latestTreeHead(rewritten.deps);
    const from = bundle.transparencyLog.treeSize;
    // The rewritten log has fewer leaves than the receipt's tree: the best proof it can give is from its own size.
    const proof = await treeConsistency(
      rewritten.deps,
      String(Math.min(from, current.treeSize)),
      String(current.treeSize),
    );

    const result = await verify(
      '--receipt',
      await save('receipt.json', bundle),
      '--jwks',
      await save('jwks.json', jwks),
      '--tree-head',
      await save('rewritten-head.json', current),
      '--consistency',
      await save('rewritten-proof.json', proof),
    );

    expect(result.code).toBe(1);
    expect(result.stdout).toContain('PASS inclusion');
    expect(result.stdout).toContain('FAIL still in the log');
  });

  it('detects an inconsistent pair of tree heads, and passes a consistent pair', async () => {
    const earlier = JSON.parse(
      (await import('node:fs/promises').then((fs) => fs.readFile(join(dir, 'honest-log.jsonl'), 'utf8'))).split(
        '\n',
      )[1] as string,
    ) as { treeSize: number; treeHead: string };
    const honestLatest = await latestTreeHead(honest.deps);
    const rewrittenLatest = await latestTreeHead(rewritten.deps);
    const keys = await save('jwks.json', jwks);

    const consistent = await verify(
      '--jwks',
      keys,
      '--tree-head',
      await save('early.json', earlier),
      '--tree-head',
      await save('honest-latest.json', honestLatest),
      '--consistency',
      await save(
        'honest-proof.json',
        await treeConsistency(honest.deps, String(earlier.treeSize), String(honestLatest.treeSize)),
      ),
    );
    const inconsistent = await verify(
      '--jwks',
      keys,
      '--tree-head',
      await save('early.json', earlier),
      '--tree-head',
      await save('rewritten-latest.json', rewrittenLatest),
      '--consistency',
      await save(
        'rewritten-proof.json',
        await treeConsistency(rewritten.deps, String(earlier.treeSize), String(rewrittenLatest.treeSize)),
      ),
    );

    expect(consistent.stdout).toContain('PASS consistency');
    expect(consistent.code).toBe(0);
    expect(inconsistent.stdout).toContain('FAIL consistency');
    expect(inconsistent.code).toBe(1);
  });

  it('detects a deleted request: its receipt still verifies, but the service no longer has it', async () => {
    const other = honest.bundles.get(requestIds[0] as string) as ReceiptBundle;

    const result = await verify(
      '--receipt',
      await save('other.json', other),
      '--jwks',
      await save('jwks.json', jwks),
      '--view',
      `${baseUrl}/v1/erasure-requests/${requestIds[0]}`,
    );

    expect(result.code).toBe(1);
    expect(result.stdout).toContain('PASS receipt signature');
    expect(result.stdout).toContain('FAIL view: the service no longer has this request (HTTP 404)');
  });

  it('answers a usage error with the usage and exit code 64, without a stack trace', async () => {
    const missing = await verify('--receipt', join(dir, 'no-such-file.json'), '--jwks', join(dir, 'none.json'));
    const none = await verify();

    expect(missing.code).toBe(64);
    expect(missing.stderr).toContain('Cannot read the JWKS file');
    expect(none.code).toBe(64);
    expect(none.stderr).toContain('Usage: npm run verify');
    expect(`${missing.stderr}${none.stderr}`).not.toMatch(/\n\s+at /);
  });

  it('says first what is missing from the command, then the usage', async () => {
    const noKeys = await verify('--receipt', join(dir, 'receipt.json'));
    const oneHead = await verify('--jwks', join(dir, 'jwks.json'), '--tree-head', join(dir, 'head.json'));

    expect(noKeys.code).toBe(64);
    expect(noKeys.stderr.split('\n')[0]).toBe('--jwks FILE|URL is required (or --log BASE_URL, to fetch the keys)');
    expect(oneHead.code).toBe(64);
    expect(oneHead.stderr.split('\n')[0]).toBe(
      'Give --receipt (with at most one --tree-head), or two --tree-head to check one against the other',
    );
  });
});

import { describe, expect, it } from 'vitest';
import { generateReceiptSigningKey, KeySigner } from '#shared/adapters/signing/key-signer';
import { signCompactJws } from '#shared/evidence/jws';
import { inclusionProof, leafHash, memoryReader, rootHash } from '#shared/evidence/merkle';
import { checkReceipt as serviceCheckReceipt } from '#shared/evidence/verify';
import { checkReceipt, RECEIPT_TYPE, TREE_HEAD_TYPE } from '../../functions/console/assets/receipt.js';

/**
 * The console checks receipts in the browser with Web Crypto alone; it must reach the verdicts `npm run verify`
 * reaches with `jose`, on bundles signed and logged by the service's own code (Node's Web Crypto stands in).
 */

const view = {
  id: `er_${'cd'.repeat(16)}`,
  status: 'completed',
  completedAt: '2026-11-21T05:21:02.175Z',
  actions: [{ provider: 'referralrock', action: 'delete_members', outcome: 'deleted', count: 2 }],
  events: [
    { seq: 1, hash: 'a'.repeat(64) },
    { seq: 2, hash: 'b'.repeat(64) },
  ],
};

async function bundleFor(signer: KeySigner, claims: object, index = 3, size = 5) {
  const receipt = await signCompactJws(signer, claims, RECEIPT_TYPE);
  const leaves = Array.from({ length: size }, (_, i) => (i === index ? receipt : `another receipt ${i}`));
  const read = memoryReader(leaves.map((leaf) => leafHash(Buffer.from(leaf, 'ascii'))));
  const treeHead = await signCompactJws(
    signer,
    { iss: 'test', treeSize: size, rootHash: (await rootHash(read, size)).toString('hex'), timestamp: 1 },
    TREE_HEAD_TYPE,
  );
  const proof = (await inclusionProof(read, index, size)).map((hash) => hash.toString('hex'));
  return { receipt, transparencyLog: { leafIndex: index, treeSize: size, treeHead, inclusionProof: proof } };
}

const claims = {
  iss: 'test',
  iat: 1,
  requestId: view.id,
  status: view.status,
  completedAt: view.completedAt,
  actions: view.actions,
  chainHead: { seq: 2, hash: 'b'.repeat(64) },
};

describe("The console's receipt check", () => {
  it('verifies a receipt the service signed and logged, as npm run verify does', async () => {
    const signer = new KeySigner(generateReceiptSigningKey());
    const jwks = { keys: [await signer.publicJwk()] };
    const bundle = await bundleFor(signer, claims);

    const checks = await checkReceipt(bundle, jwks, view);

    expect(checks.map((c) => [c.name, c.ok])).toEqual([
      ['Receipt signature', true],
      ['Tree head signature', true],
      ['In the transparency log', true],
      ['Agrees with this trail', true],
    ]);
    expect((await serviceCheckReceipt(bundle, jwks as never)).checks.every((c) => c.ok)).toBe(true);
  });

  it('rejects a changed receipt, another key, a wrong leaf and a trail the receipt does not state', async () => {
    const signer = new KeySigner(generateReceiptSigningKey());
    const jwks = { keys: [await signer.publicJwk()] };
    const bundle = await bundleFor(signer, claims);
    const [header, , signature] = bundle.receipt.split('.');
    const changed = Buffer.from(JSON.stringify({ ...claims, status: 'failed' })).toString('base64url');
    const tampered = { ...bundle, receipt: `${header}.${changed}.${signature}` };
    const otherKey = { keys: [await new KeySigner(generateReceiptSigningKey()).publicJwk()] };
    const moved = { ...bundle, transparencyLog: { ...bundle.transparencyLog, leafIndex: 2 } };
    const okOf = async (b: typeof bundle, keys: typeof jwks, v: typeof view) =>
      Object.fromEntries((await checkReceipt(b, keys, v)).map((c) => [c.name, c.ok]));

    expect((await okOf(tampered, jwks, view))['Receipt signature']).toBe(false);
    expect(await okOf(bundle, otherKey, view)).toEqual({ 'Receipt signature': false, 'Tree head signature': false });
    expect((await okOf(moved, jwks, view))['In the transparency log']).toBe(false);
    expect((await okOf(bundle, jwks, { ...view, status: 'failed' }))['Agrees with this trail']).toBe(false);
    expect((await okOf(bundle, jwks, { ...view, events: view.events.slice(0, 1) }))['Agrees with this trail']).toBe(
      false,
    );
  });
});

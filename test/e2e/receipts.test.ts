import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkConsistency, checkReceipt } from '#shared/evidence/verify';
import { fetchDocumented } from '#test/support/api-document';
import { verifyWithJoseOnly } from '#test/support/jose-only-verify';
import { startTestRuntime, TEST_AUDIT_TOKEN, type TestRuntime } from '#test/support/local-runtime';

/**
 * Receipts end to end on the local runtime: a request that ends gets a signed receipt proven in the transparency log,
 * served with the keys, the tree head and consistency proofs over HTTP, and the head is published under DATA_DIR.
 */

let t: TestRuntime;
const call = async (path: string, token?: string) => {
  const response = await fetchDocumented(`${t.runtime.url}${path}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  const text = await response.text();
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    json: text ? JSON.parse(text) : undefined,
  };
};

beforeAll(async () => {
  t = await startTestRuntime();
  t.referralRock.addMember({ email: 'receipt@example.com' });
});
afterAll(() => t.stop());

describe('receipts on the local runtime', () => {
  it('issues a receipt when a request ends, which verifies with jose alone and against the status view', async () => {
    const view = await t.erase({ email: 'receipt@example.com', reference: 'DSR-9001' });
    const receipt = await call(`/v1/erasure-requests/${view.id}/receipt`, TEST_AUDIT_TOKEN);
    const jwks = await call('/.well-known/jwks.json');

    expect(view.status).toBe('completed');
    expect(receipt.status).toBe(200);
    expect(jwks.type).toBe('application/jwk-set+json');
    const { payload, protectedHeader } = await verifyWithJoseOnly(receipt.json.receipt, jwks.json);
    expect(protectedHeader).toMatchObject({ alg: 'ES256', typ: 'erasure-receipt+json' });
    expect(protectedHeader.kid).toBe(await calculateJwkThumbprint(jwks.json.keys[0]));
    expect(payload).toMatchObject({ requestId: view.id, reference: 'DSR-9001', status: 'completed' });
    expect(JSON.stringify(payload)).not.toContain('receipt@example.com');
    const { checks } = await checkReceipt(receipt.json, jwks.json, view);
    expect(checks.filter((c) => !c.ok)).toEqual([]);
    expect(checks.map((c) => c.name)).toContain('view agrees');
  });

  it('issues one for a canceled request too, and serves heads, consistency proofs and the published heads file', async () => {
    const submitted = await t.submit({ externalId: 'crm-cancel-1' });
    const canceled = await t.cancel(submitted.json.id);
    await t.runtime.workflow.idle();
    const receipt = await call(`/v1/erasure-requests/${submitted.json.id}/receipt`, TEST_AUDIT_TOKEN);
    const head = await call('/v1/log/tree-head', TEST_AUDIT_TOKEN);
    const proof = await call(`/v1/log/consistency?from=1&to=${head.json.treeSize}`, TEST_AUDIT_TOKEN);
    const published = (await readFile(join(t.dataDir, 'transparency-log', 'tree-heads.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    const jwks = (await call('/.well-known/jwks.json')).json;

    expect(canceled.json.status).toBe('canceled');
    expect(receipt.status).toBe(200);
    expect((await verifyWithJoseOnly(receipt.json.receipt, jwks)).payload).toMatchObject({ status: 'canceled' });
    expect(head.json.treeSize).toBeGreaterThanOrEqual(2);
    expect(published.map((p) => p.treeSize)).toContain(head.json.treeSize);
    expect(
      await checkConsistency(published[0].treeHead, head.json.treeHead, proof.json.consistencyProof, jwks),
    ).toEqual([expect.objectContaining({ ok: true })]);
  });

  it('asks an audit token for receipts and log routes, none for the keys', async () => {
    const unknown = await call('/v1/erasure-requests/er_00000000000000000000000000000000/receipt', TEST_AUDIT_TOKEN);

    expect((await call('/v1/log/tree-head')).status).toBe(401);
    expect((await call('/v1/log/consistency?from=1&to=1')).status).toBe(401);
    expect((await call('/v1/erasure-requests/er_00000000000000000000000000000000/receipt')).status).toBe(401);
    expect(unknown.status).toBe(404);
    expect((await call('/.well-known/jwks.json')).status).toBe(200);
  });
});

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type LocalDynamo, startLocalDynamo } from '#infra/local/dynamodb';
import { DynamoIdentityTable } from '#shared/adapters/dynamodb/identity-table';
import { createDocumentClient } from '#shared/composition';
import { IdentityCipher } from '#shared/crypto/identity-cipher';
import { ciphertextPieces, findInFiles } from '#test/support/data-dir-scan';

/**
 * The local store's "make deletion final" hook on its own, on a fresh on-disk dynalite: the cases where LevelDB keeps a
 * deleted value after a plain compaction (a flush placed on the deepest level; an iterator a Scan left open).
 */

const tables = { requests: 'purge-requests', auditEvents: 'purge-events', identities: 'purge-identities' };
let dynamo: LocalDynamo | undefined;
let dir: string | undefined;
afterEach(async () => {
  await dynamo?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
  dynamo = undefined;
  dir = undefined;
});

describe('local DynamoDB: deletions made final on disk', () => {
  it('leaves no byte of a deleted identity in any file, though a Scan read it before', async () => {
    // Prepare
    dir = await mkdtemp(join(tmpdir(), 'erasure-purge-'));
    const local = await startLocalDynamo(dir);
    dynamo = local;
    await local.ensureTables(tables);
    const identities = new DynamoIdentityTable(
      createDocumentClient({ dynamoDbEndpoint: undefined }, local.client),
      tables.identities,
      () => local.compact(tables.identities),
    );
    const ciphertext = new IdentityCipher(Buffer.alloc(32, 3)).encrypt('{"email":"purge@example.com"}', 'er_purge');
    await identities.put({
      id: 'er_purge',
      identity: ciphertext,
      payloadHash: 'h',
      createdAt: '2026-01-01T00:00:00Z',
      expiresAt: 1,
    });
    const needles = ciphertextPieces(ciphertext);
    const listed = await identities.listKeys();
    const beforeDelete = await findInFiles(dir, needles);

    // Act
    await identities.delete('er_purge');
    const afterDelete = await findInFiles(dir, needles);

    // Assess
    expect(listed).toEqual([{ id: 'er_purge', createdAt: '2026-01-01T00:00:00Z' }]);
    expect(beforeDelete.map((hit) => hit.needle)).toEqual(expect.arrayContaining(Object.keys(needles)));
    expect(afterDelete).toEqual([]);
    expect(await identities.get('er_purge')).toBeUndefined();
  });
});

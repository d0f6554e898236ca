import { readFile, stat } from 'node:fs/promises';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { ciphertextPieces, findInFiles } from '#test/support/data-dir-scan';
import { actionOf, secretsFileFor, startTestRuntime, type TestRuntime } from '#test/support/local-runtime';

/**
 * "Destroyed" means unrecoverable: once a request ends, its encrypted identity is gone from every byte under DATA_DIR,
 * not just from what the service shows. dynalite keeps its tables in LevelDB, which keeps deleted values in its log and
 * table files until a compaction; these tests read those files raw.
 */

const SUBJECT = { email: 'vault.subject@example.com', externalId: 'crm-vault-7731' };
const IDENTIFIERS = { email: SUBJECT.email, externalId: SUBJECT.externalId };

let t: TestRuntime | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The ciphertext as the identities table holds it, read raw (not through the service). */
async function storedCiphertext(rt: TestRuntime, id: string): Promise<string> {
  const { dynamoDbEndpoint, tables } = rt.runtime.config;
  const client = new DynamoDBClient({
    endpoint: dynamoDbEndpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    const { Item } = await client.send(new GetItemCommand({ TableName: tables.identities, Key: { id: { S: id } } }));
    const ciphertext = Item?.identity?.S;
    if (!ciphertext) throw new Error('no identity stored for the open request');
    return ciphertext;
  } finally {
    client.destroy();
  }
}

function seed(rt: TestRuntime, fpReferrals: number) {
  rt.referralRock.addMember({ email: SUBJECT.email, programId: rt.referralRock.addProgram({ name: 'Spring' }).id });
  for (let i = 0; i < fpReferrals; i++) rt.firstPromoter.addReferral({ email: SUBJECT.email, uid: `v-${i}` });
  rt.firstPromoter.addPromoter({ email: SUBJECT.email, name: 'Vault' });
}

describe('a destroyed identity is unrecoverable from the data directory', () => {
  it('leaves no byte of the ciphertext under DATA_DIR once a request completed, though it resumed after a crash', async () => {
    // Prepare: a FirstPromoter batch keeps the request open (polled every 30 s) while the files are read.
    t = await startTestRuntime({ persistent: true, env: { BATCH_POLL_INTERVAL_SECONDS: '30' } });
    seed(t, 7);
    const { dataDir, referralRock, firstPromoter } = t;
    const id: string = (await t.submit(SUBJECT)).json.id;
    await waitFor('the batch to be polled', async () => {
      const view = (await t?.get(id))?.json;
      return actionOf(view, 'firstpromoter', 'delete_referrals')?.outcome === 'pending' ? view : undefined;
    });
    const needles = ciphertextPieces(await storedCiphertext(t, id));
    const whileOpen = await findInFiles(dataDir, needles);

    // Act: a crash, then a restart on the same DATA_DIR finishes the request with the identity it kept.
    await t.stop({ crash: true, keepData: true });
    t = await startTestRuntime({ persistent: true, dataDir, referralRock, firstPromoter });
    await t.runtime.workflow.idle();
    const view = (await t.get(id)).json;
    const afterEnd = await findInFiles(dataDir, { ...needles, ...IDENTIFIERS });

    // Assess
    expect(view.status).toBe('completed');
    expect(view.events.map((e: any) => e.type)).toContain('identity.destroyed');
    expect(whileOpen.map((hit) => hit.needle)).toEqual(expect.arrayContaining(Object.keys(needles)));
    expect(afterEnd).toEqual([]);
  });

  it('leaves no byte of the ciphertext under DATA_DIR once a request was canceled', async () => {
    // Prepare
    t = await startTestRuntime({ persistent: true, env: { WAITING_PERIOD_SECONDS: '3600' } });
    seed(t, 1);
    const id: string = (await t.submit(SUBJECT)).json.id;
    // In the waiting period with the promoters' archive recorded: `waiting` alone comes before the archive step has
    // ended, and a cancel that meets an archive still in flight stays `canceling` until the sweeper restores.
    await waitFor('the waiting period', async () => {
      const view = (await t?.get(id))?.json;
      const archive = view?.actions?.find((a: any) => a.action === 'archive_promoters');
      return view?.status === 'waiting' && archive?.outcome && archive.outcome !== 'pending' ? view : undefined;
    });
    const needles = ciphertextPieces(await storedCiphertext(t, id));
    const whileOpen = await findInFiles(t.dataDir, needles);

    // Act
    const canceled = await t.cancel(id);
    await t.runtime.workflow.idle();
    const afterEnd = await findInFiles(t.dataDir, { ...needles, ...IDENTIFIERS });

    // Assess
    expect(canceled.json.status).toBe('canceled');
    expect(whileOpen.map((hit) => hit.needle)).toEqual(expect.arrayContaining(Object.keys(needles)));
    expect(afterEnd).toEqual([]);
  });

  it('keeps the generated IDENTITY_KEY out of DATA_DIR, in a file only its owner can read', async () => {
    // Prepare: no IDENTITY_KEY in the environment, so the runtime generates one.
    t = await startTestRuntime({ persistent: true });
    const key = t.runtime.secrets.IDENTITY_KEY;
    const secretsFile = secretsFileFor(t.dataDir);

    // Act
    const inDataDir = await findInFiles(t.dataDir, { key });

    // Assess
    expect(t.runtime.secretsFile).toBe(secretsFile);
    expect(inDataDir).toEqual([]);
    expect(await readFile(secretsFile, 'utf8')).toContain(key);
    expect((await stat(secretsFile)).mode & 0o777).toBe(0o600);
  });
});

import { createInterface } from 'node:readline';
import { type DataDirLock, lockDataDir } from '#infra/local/data-dir-lock';

/**
 * A separate process contending for a DATA_DIR lock (test/unit/data-dir-lock.test.ts): on each `take <dir>` line it
 * tries to take the directory and answers `won` or `lost`; on `release` it releases what it won and answers `released`.
 * Several of these take the same stale lock at once, as several `npm start` would.
 */
let held: DataDirLock | undefined;
for await (const line of createInterface({ input: process.stdin })) {
  const [command, dir] = line.split(' ');
  if (command === 'take' && dir) {
    held = await lockDataDir(dir).catch(() => undefined);
    process.stdout.write(held ? 'won\n' : 'lost\n');
  } else if (command === 'release') {
    await held?.release();
    held = undefined;
    process.stdout.write('released\n');
  }
}

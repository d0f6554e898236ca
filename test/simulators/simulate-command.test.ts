import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** The request a printed `curl -s [-u 'user:pass'] [-H 'Name: value']… 'URL'` line makes, for fetch. */
function curlToFetch(line: string): { url: string; headers: Record<string, string> } {
  const args = [...line.matchAll(/(-[uH]) '([^']*)'|'([^']*)'/g)];
  const headers: Record<string, string> = {};
  let url = '';
  for (const [, flag, value, bare] of args) {
    if (flag === '-u') headers.authorization = `Basic ${Buffer.from(value as string).toString('base64')}`;
    else if (flag === '-H') {
      const [name, ...rest] = (value as string).split(':');
      headers[(name as string).toLowerCase()] = rest.join(':').trim();
    } else url = bare as string;
  }
  return { url, headers };
}

it('npm run simulate prints each simulator’s demo credentials and a curl that works as printed', {
  timeout: 30_000,
}, async () => {
  const env = { ...process.env };
  for (const name of ['PUBLIC_KEY', 'PRIVATE_KEY'].map((n) => `REFERRALROCK_${n}`)) delete env[name];
  for (const name of ['API_KEY', 'ACCOUNT_ID'].map((n) => `FIRSTPROMOTER_${n}`)) delete env[name];
  const child = spawn(join(REPO, 'node_modules', '.bin', 'node'), ['test/simulators/main.ts'], {
    cwd: REPO,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  try {
    while (!output.includes('Press Ctrl+C')) {
      if (child.exitCode !== null) throw new Error(`npm run simulate ended:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const curls = output.split('\n').filter((line) => line.trimStart().startsWith('curl '));

    expect(output).toContain('public key demo-public, private key demo-private');
    expect(output).toContain('Authorization: Bearer demo-api-key, Account-ID: demo-account');
    expect(curls).toHaveLength(2);
    for (const curl of curls) {
      const { url, headers } = curlToFetch(curl);
      const response = await fetch(url, { headers });
      expect(response.status, curl).toBe(200);
      expect(await response.text(), curl).toContain('jane@example.com');
    }
  } finally {
    child.kill('SIGTERM');
  }
});

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A complete environment for any function, secrets given as values (no Secrets Manager call): importing a bundle then
 * runs its whole cold start, configuration and client construction included, and nothing over the network.
 */
export function functionEnvironment(): NodeJS.ProcessEnv {
  const key = () => randomBytes(32).toString('base64');
  return {
    PATH: process.env.PATH ?? '',
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIDBENCH',
    AWS_SECRET_ACCESS_KEY: 'bench',
    WEBHOOK_SECRET: `whsec_${key()}`,
    AUDIT_TOKENS: `audit_${randomBytes(24).toString('hex')}`,
    OPERATOR_TOKENS: `operator_${randomBytes(24).toString('hex')}`,
    PSEUDONYM_KEY: key(),
    IDENTITY_KEY: key(),
    REFERRALROCK_PUBLIC_KEY: 'bench-public',
    REFERRALROCK_PRIVATE_KEY: 'bench-private',
    FIRSTPROMOTER_API_KEY: 'bench-key',
    FIRSTPROMOTER_ACCOUNT_ID: 'bench-account',
    STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:000000000000:stateMachine:bench',
    POWERTOOLS_SERVICE_NAME: 'gdpr-erasure',
    POWERTOOLS_LOG_LEVEL: 'WARN',
  };
}

/**
 * Milliseconds `await import(bundle)` takes in a fresh `node` (what a Lambda cold start pays before the first request),
 * the median of `runs` processes.
 */
export async function importTime(file: string, runs = 3): Promise<number> {
  const script = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); console.log(performance.now() - t);`;
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      env: functionEnvironment(),
    });
    times.push(Number(stdout.trim().split('\n').at(-1)));
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}

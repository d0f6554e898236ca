import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { SECRET_VARIABLES } from '#shared/config';

const run = promisify(execFile);

/**
 * A complete environment for any function, secrets given as values (no Secrets Manager call): importing a bundle then
 * runs its whole cold start, configuration and client construction included, and nothing over the network.
 */
export function functionEnvironment(): NodeJS.ProcessEnv {
  const key = () => randomBytes(32).toString('base64');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '',
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIDBENCH',
    AWS_SECRET_ACCESS_KEY: 'bench',
    STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:000000000000:stateMachine:bench',
    // What the functions that end requests, the receipt issuer and the callback function require besides secrets.
    RECEIPT_ISSUER_FUNCTION: 'bench-receipt-issuer',
    RECEIPT_KMS_KEY_ID: 'arn:aws:kms:eu-west-1:000000000000:key/bench',
    TREE_HEADS_BUCKET: 'bench-tree-heads',
    PUBLIC_BASE_URL: 'https://erasure.example.com',
    POWERTOOLS_SERVICE_NAME: 'gdpr-erasure',
    POWERTOOLS_LOG_LEVEL: 'WARN',
  };
  // Every secret a function may require, each in its own valid form (token lists apart, as the roles require).
  for (const name of SECRET_VARIABLES) {
    env[name] = /SECRET$/.test(name)
      ? `whsec_${key()}`
      : /TOKENS$/.test(name)
        ? `${name.toLowerCase()}_${randomBytes(24).toString('hex')}`
        : /^(PSEUDONYM|IDENTITY)_KEY$/.test(name)
          ? key()
          : `bench-${name.toLowerCase()}`;
  }
  return env;
}

/** Milliseconds `await import(bundle)` takes in a fresh `node`: what a Lambda cold start pays before the first request. */
async function importOnce(file: string): Promise<number> {
  const script = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); console.log(performance.now() - t);`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { env: functionEnvironment() });
  return Number(stdout.trim().split('\n').at(-1));
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

/**
 * Import time of `file` and of the reference handler, each the median of `runs` fresh processes, taken in turns
 * (reference, function, reference, ...) so that a machine whose load changes during the run weighs on both alike.
 * A function that does not start with {@link functionEnvironment} gets NaN (reported, not hidden as zero).
 */
export async function importTimes(
  file: string,
  reference: string,
  runs = 3,
): Promise<{ ms: number; referenceMs: number }> {
  const own: number[] = [];
  const ref: number[] = [];
  for (let i = 0; i < runs; i++) {
    ref.push(await importOnce(reference));
    try {
      own.push(await importOnce(file));
    } catch (error) {
      process.stderr.write(`${file} did not import: ${String((error as Error).message).split('\n')[0]}\n`);
      return { ms: Number.NaN, referenceMs: median(ref) };
    }
  }
  return { ms: median(own), referenceMs: median(ref) };
}

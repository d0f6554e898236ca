import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { JSONWebKeySet } from 'jose';
import type { ReceiptBundle } from '#shared/evidence/receipt';
import { type Check, checkConsistency, checkReceipt, type ViewForReceipt } from '#shared/evidence/verify';
import { userPath } from './cli-args.ts';

/**
 * `npm run verify`: checks, offline and without trusting the service, a receipt (its signature with the JWKS, its
 * inclusion in the transparency log under a signed tree head, and, with `--view`, the request's events), and the
 * consistency of saved tree heads. Every input is a file or a URL (fetched with `--token` as bearer). Prints one
 * PASS/FAIL line per check; exit 0 when all pass, 1 when any fails, 64 for a usage error.
 */

const USAGE = `Usage: npm run verify -- [--receipt FILE|URL] --jwks FILE|URL [--view FILE|URL]
                         [--tree-head FILE|URL]... [--consistency FILE|URL] [--log BASE_URL] [--token TOKEN]

  --receipt      the receipt (GET /v1/erasure-requests/{id}/receipt)
  --jwks         the public keys (GET /.well-known/jwks.json)
  --view         the request's status view (GET /v1/erasure-requests/{id}): its events must end at the receipt's chain head
  --tree-head    a saved signed tree head (GET /v1/log/tree-head): with --receipt once (the receipt must still be
                 in that tree; default: the service's current head with --log), without it twice (checked together)
  --consistency  the consistency proof (GET /v1/log/consistency?from=N&to=M); fetched from --log when not given
  --log          the service's base URL, to fetch what is not given (the JWKS, the current tree head, proofs)
  --token        bearer token for the URLs that need one (an audit token)`;

class UsageError extends Error {}

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        receipt: { type: 'string' },
        jwks: { type: 'string' },
        view: { type: 'string' },
        'tree-head': { type: 'string', multiple: true },
        consistency: { type: 'string' },
        log: { type: 'string' },
        token: { type: 'string' },
        help: { type: 'boolean' },
      },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    process.exit(64);
  }
})();

/** What a URL answered that is not a document: the caller decides what it means (a 404 view: a deleted request). */
class FetchError extends Error {
  readonly status: number;
  constructor(status: number, what: string) {
    super(`${what}: HTTP ${status}`);
    this.status = status;
  }
}

async function load<T>(source: string, what: string): Promise<T> {
  let text: string;
  if (/^https?:\/\//.test(source)) {
    const response = await fetch(source, {
      headers: values.token ? { authorization: `Bearer ${values.token}` } : {},
    });
    text = await response.text();
    if (!response.ok) throw new FetchError(response.status, `${what} at ${source}`);
  } else {
    try {
      text = await readFile(userPath(source), 'utf8');
    } catch (error) {
      throw new UsageError(`Cannot read the ${what} file ${source}: ${(error as NodeJS.ErrnoException).code}`);
    }
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new UsageError(`The ${what} in ${source} is not JSON`);
  }
}

/** A tree head as saved from `GET /v1/log/tree-head` (`{ treeSize, treeHead }`) or from the published file's lines. */
type SavedHead = { treeSize: number; treeHead: string };

const base = values.log?.replace(/\/+$/, '');
const checks: Check[] = [];
const fail = (name: string, detail: string) => checks.push({ name, ok: false, detail });

async function consistencyProof(from: number, to: number): Promise<string[] | undefined> {
  if (values.consistency)
    return (await load<{ consistencyProof: string[] }>(values.consistency, 'consistency proof')).consistencyProof;
  if (!base) return undefined;
  return (
    await load<{ consistencyProof: string[] }>(`${base}/v1/log/consistency?from=${from}&to=${to}`, 'consistency proof')
  ).consistencyProof;
}

async function main(): Promise<void> {
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const jwksSource = values.jwks ?? (base ? `${base}/.well-known/jwks.json` : undefined);
  const headCount = (values['tree-head'] ?? []).length;
  // A receipt is checked against at most one later head; without one, two heads are checked against each other.
  if (!jwksSource) {
    throw new UsageError(`--jwks FILE|URL is required (or --log BASE_URL, to fetch the keys)\n\n${USAGE}`);
  }
  if (values.receipt ? headCount > 1 : headCount !== 2) {
    throw new UsageError(
      `Give --receipt (with at most one --tree-head), or two --tree-head to check one against the other\n\n${USAGE}`,
    );
  }
  const jwks = await load<JSONWebKeySet>(jwksSource, 'JWKS');
  const heads = await Promise.all((values['tree-head'] ?? []).map((source) => load<SavedHead>(source, 'tree head')));

  if (values.receipt) {
    const bundle = await load<ReceiptBundle>(values.receipt, 'receipt');
    let view: ViewForReceipt | undefined;
    if (values.view) {
      try {
        view = await load<ViewForReceipt>(values.view, 'status view');
      } catch (error) {
        if (!(error instanceof FetchError && error.status === 404)) throw error;
        fail('view', `the service no longer has this request (HTTP 404): it was deleted after its receipt was issued`);
      }
    }
    const result = await checkReceipt(bundle, jwks, view);
    checks.push(...result.checks);
    // Still in the log: the receipt's head must be a prefix of the latest head (given, or the service's current one).
    const later = heads.at(-1) ?? (base && (await load<SavedHead>(`${base}/v1/log/tree-head`, 'tree head')));
    if (result.head && later && later.treeSize >= bundle.transparencyLog.treeSize) {
      const proof = await consistencyProof(bundle.transparencyLog.treeSize, later.treeSize);
      if (proof === undefined) fail('still in the log', 'no consistency proof: give --consistency or --log');
      else {
        const [check] = await checkConsistency(bundle.transparencyLog.treeHead, later.treeHead, proof, jwks);
        if (check) {
          checks.push({
            name: 'still in the log',
            ok: check.ok,
            detail: check.ok
              ? `the receipt's tree of ${bundle.transparencyLog.treeSize} is a prefix of the tree of ${later.treeSize}`
              : `${check.detail}: the receipt's leaf may have been removed`,
          });
        }
      }
    } else if (later && result.head) {
      fail('still in the log', `the tree head given (size ${later.treeSize}) is older than the receipt's`);
    }
  } else {
    const [a, b] = heads as [SavedHead, SavedHead];
    const [older, newer] = a.treeSize <= b.treeSize ? [a, b] : [b, a];
    const proof = await consistencyProof(older.treeSize, newer.treeSize);
    if (proof === undefined) fail('consistency', 'no consistency proof: give --consistency or --log');
    else checks.push(...(await checkConsistency(older.treeHead, newer.treeHead, proof, jwks)));
  }
}

try {
  await main();
} catch (error) {
  if (error instanceof UsageError) {
    console.error(error.message);
    process.exit(64);
  }
  fail('input', error instanceof Error ? error.message : String(error));
}
for (const check of checks) process.stdout.write(`${check.ok ? 'PASS' : 'FAIL'} ${check.name}: ${check.detail}\n`);
const passed = checks.length > 0 && checks.every((c) => c.ok);
process.stdout.write(passed ? 'VERIFIED\n' : 'NOT VERIFIED\n');
process.exit(passed ? 0 : 1);

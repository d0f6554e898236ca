import { type ChildProcess, spawn } from 'node:child_process';
import { setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';

/**
 * `npm test`: the static checks (`npm run typecheck`, `lint`, `lint:openapi`, one after another) run alongside
 * `vitest run` rather than before it. On two cores the tests keep both busy most of the time but not all of it (the
 * first files' imports, the last file alone): the checks, at a lower priority, take that idle time instead of ten
 * seconds of their own up front. Vitest's output comes as it runs; the checks' output is held and printed after it,
 * then one line says what failed. Arguments go to vitest (`npm test -- test/unit`). Exits 1 when anything failed.
 */

const CHECKS = ['typecheck', 'lint', 'lint:openapi'];
/** Below vitest's priority: the checks fill idle cores rather than slow the tests down. */
const CHECKS_NICENESS = 10;

interface Finished {
  code: number;
  output: string;
}

function run(command: string, args: string[], options: { quiet: boolean; niceness?: number }): Promise<Finished> {
  const child: ChildProcess = spawn(command, args, { stdio: options.quiet ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
  // Set before npm starts its own child, which inherits it.
  if (options.niceness !== undefined && child.pid !== undefined) setPriority(child.pid, options.niceness);
  let output = '';
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
  }
  return new Promise((resolve) => {
    child.once('error', (error) => resolve({ code: 1, output: `${output}${error.message}\n` }));
    child.once('close', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), output }));
  });
}

async function runChecks(): Promise<Array<{ name: string } & Finished>> {
  const results: Array<{ name: string } & Finished> = [];
  for (const name of CHECKS) {
    results.push({
      name,
      ...(await run('npm', ['run', '--silent', name], { quiet: true, niceness: CHECKS_NICENESS })),
    });
  }
  return results;
}

const started = Date.now();
const checks = runChecks();
// Vitest's own entry point with this Node.js: no npx in between, and no PATH needed.
const vitest = fileURLToPath(new URL('vitest.mjs', import.meta.resolve('vitest/package.json')));
const tests = await run(process.execPath, [vitest, 'run', ...process.argv.slice(2)], { quiet: false });
const checked = await checks;

const failed = [...checked.filter((c) => c.code !== 0).map((c) => c.name), ...(tests.code !== 0 ? ['vitest'] : [])];
for (const check of checked) {
  const output = check.output.trim();
  if (output) process.stdout.write(`\n> npm run ${check.name}\n${output}\n`);
}
const seconds = ((Date.now() - started) / 1000).toFixed(1);
process.stdout.write(
  failed.length === 0
    ? `\nnpm test: ${CHECKS.join(', ')} and vitest passed in ${seconds} s\n`
    : `\nnpm test: FAILED: ${failed.join(', ')} (${seconds} s)\n`,
);
process.exitCode = failed.length === 0 ? 0 : 1;

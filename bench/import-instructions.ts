import './quiet-handlers.ts';
import { execFile } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { parseArgsOrExit } from '#infra/local/cli-args';
import { bundleAll } from './bundles.ts';
import { functionEnvironment } from './import-times.ts';

const run = promisify(execFile);

/**
 * `node bench/import-instructions.ts`: each function's import counted in instructions rather than timed, for a machine
 * shared with other work, where timed ratios move by ±0.2 from run to run (README, Performance, "What still stands").
 * Every bundle is imported in a fresh `node` under valgrind's callgrind, in the environment `npm run bench` imports
 * it in; the count of a `node` that imports nothing is taken off. Callgrind counts user-space instructions of every
 * thread, the same from run to run within about 1.5 % (3 % for a function whose garbage collection falls
 * differently), but not page faults or cache misses: a larger bundle times somewhat worse than it counts. About a
 * minute of CPU per import.
 */
const USAGE = `node bench/import-instructions.ts [-- options] [function ...]: imports counted in instructions (valgrind)
  --runs 2     imports of each bundle (and of the reference and of nothing); the mean is taken
  function     names of functions to count (default: every function)
`;
const { values, positionals } = parseArgsOrExit(
  { options: { runs: { type: 'string', default: '2' } }, allowPositionals: true },
  USAGE,
);
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
  process.stderr.write(`--runs must be a whole number of at least 1\n${USAGE}`);
  process.exit(64);
}
try {
  await run('valgrind', ['--version']);
} catch {
  process.stderr.write('valgrind is not installed: this count needs it (apt-get install valgrind)\n');
  process.exit(69);
}

/** Instructions of one fresh `node` importing `file` (nothing when undefined), in the bench's environment. */
async function instructions(file: string | undefined): Promise<number> {
  const script = file ? `await import(${JSON.stringify(pathToFileURL(file).href)});` : '';
  const { stderr } = await run(
    'valgrind',
    ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, '--input-type=module', '-e', script],
    { env: functionEnvironment(), maxBuffer: 16 * 1024 * 1024 },
  );
  const collected = /Collected : (\d+)/.exec(stderr);
  if (!collected) throw new Error(`valgrind gave no count for ${file ?? 'an empty import'}`);
  return Number(collected[1]);
}

const mean = async (file: string | undefined) => {
  let sum = 0;
  for (let i = 0; i < runs; i++) sum += await instructions(file);
  return sum / runs;
};

const built = bundleAll();
try {
  const chosen = built.functions.filter(({ name }) => positionals.length === 0 || positionals.includes(name));
  const unknown = positionals.filter((name) => !built.functions.some((f) => f.name === name));
  if (unknown.length > 0) throw new Error(`No such function: ${unknown.join(', ')}`);
  const nothing = await mean(undefined);
  const reference = (await mean(built.reference.file)) - nothing;
  const millions = (n: number) => (n / 1e6).toFixed(0).padStart(6);
  process.stdout.write(
    `Import, in millions of instructions (mean of ${runs}), without node's own ${millions(nothing)}:\n`,
  );
  process.stdout.write(`${'reference handler'.padEnd(20)} ${millions(reference)}   1.00\n`);
  for (const { name, file } of chosen) {
    const own = (await mean(file)) - nothing;
    process.stdout.write(`${name.padEnd(20)} ${millions(own)}   ${(own / reference).toFixed(2)}\n`);
  }
} finally {
  built.remove();
}

import { beforeEach } from 'vitest';

/**
 * Vitest setup file: what the code under test writes to stdout and stderr (the service's JSON logs, above all: expected
 * WARN lines of tests that inject faults look like failures) is held back while each test runs and shown only when
 * that test fails, before its error. `npm test` then prints the test summary, not thousands of log lines.
 *
 * Only direct writes to the process streams are held (Powertools' logger writes there through a Console of its own);
 * `console.log` in a test goes through Vitest, which shows it as usual. Output outside any test (a `beforeAll` starting
 * a runtime) is dropped. A test that captures output itself (`captureOutput`) replaces these writers while it runs and
 * puts them back after.
 *
 * Vitest runs a setup file again before every test file, and without isolation (vitest.config.ts) the files of a
 * worker share one process: the streams are wrapped once per process, and each run of this file only starts holding
 * anew. Wrapping again would take the previous wrapper for the original writer, and a failed test's output would be
 * held there instead of shown.
 */
type Write = typeof process.stdout.write;
type Chunk = { stream: NodeJS.WriteStream; chunk: string | Uint8Array };
interface Holding {
  originals: Map<NodeJS.WriteStream, Write>;
  held: Chunk[];
}

const HOLDING = Symbol.for('gdpr-erasure.test.quiet-output');
const processWide = globalThis as { [HOLDING]?: Holding };
processWide[HOLDING] ??= holdStreams();
const holding = processWide[HOLDING];

function holdStreams(): Holding {
  const streams = [process.stdout, process.stderr] as const;
  const state: Holding = {
    originals: new Map<NodeJS.WriteStream, Write>(streams.map((stream) => [stream, stream.write.bind(stream)])),
    held: [],
  };
  for (const stream of streams) {
    stream.write = ((chunk: string | Uint8Array, encoding?: unknown, callback?: unknown): boolean => {
      state.held.push({ stream, chunk });
      const done = typeof encoding === 'function' ? encoding : callback;
      if (typeof done === 'function') process.nextTick(done as () => void);
      return true;
    }) as Write;
  }
  return state;
}

beforeEach((context) => {
  holding.held = [];
  const mine = holding.held;
  context.onTestFailed(() => {
    if (mine.length === 0) return;
    const write = (stream: NodeJS.WriteStream, text: string | Uint8Array) => holding.originals.get(stream)?.(text);
    write(process.stderr, `\n--- output of the failed test "${context.task.name}" ---\n`);
    for (const { stream, chunk } of mine) write(stream, chunk);
    write(process.stderr, '--- end of its output ---\n');
  });
});

import { resolve } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';

/**
 * Whether the user asked a command-line tool for its usage (`--help` or `-h`, before any `--`), which every tool
 * answers on stdout with exit code 0, rather than as an unknown option.
 */
export function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}

/**
 * `parseArgs` for a command-line tool: `--help` prints the usage (exit 0); an unknown option or a missing value is
 * the user's mistake, said in one line with the tool's usage and exit code 64 (EX_USAGE), not as Node's stack trace
 * of `ERR_PARSE_ARGS_UNKNOWN_OPTION`.
 * @param usage printed after the message, or alone for `--help`
 */
export function parseArgsOrExit<T extends ParseArgsConfig>(config: T, usage: string): ReturnType<typeof parseArgs<T>> {
  if (wantsHelp(config.args ?? process.argv.slice(2))) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  try {
    return parseArgs(config);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${usage}\n`);
    process.exit(64);
  }
}

/**
 * A path the user gave a command-line tool, made absolute from where they typed the command: `npm run` runs scripts in
 * the project's root, and says where it was invoked in INIT_CWD, so `npm run submit -- --file subjects.csv` typed in
 * another directory reads that directory's file (without npm, the process's own directory).
 */
export function userPath(path: string): string {
  return resolve(process.env.INIT_CWD ?? process.cwd(), path);
}

/**
 * Why a `fetch` got no answer, in a word or two: undici's own message is "fetch failed" whatever happened, and its
 * `cause` says what (`ECONNREFUSED`: nothing listens there; `bad port`: a port fetch refuses to call, e.g. 6000); an
 * abort (`AbortSignal.timeout`) is named by its name, `TimeoutError`.
 */
export function whyUnanswered(error: unknown): string {
  const { cause, name, message } = error as {
    cause?: { code?: string; message?: string };
    name?: string;
    message?: string;
  };
  if (cause?.code || cause?.message) return (cause.code ?? cause.message) as string;
  if (name === 'TimeoutError' || name === 'AbortError') return name;
  return message ?? String(error);
}

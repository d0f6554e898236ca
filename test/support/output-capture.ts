import { format } from 'node:util';

type WriteCallback = (error?: Error | null) => void;

export interface OutputCapture {
  /** Everything written so far, in order: process.stdout, process.stderr and the global console. */
  readonly chunks: readonly string[];
  text(): string;
  /** The captured lines that parse as JSON objects (Powertools writes one per log call). */
  jsonLines(): Record<string, unknown>[];
  /** Puts the original writers back; safe to call twice. */
  restore(): void;
}

const CONSOLE_METHODS = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;

/**
 * Captures, and keeps from the terminal, everything this process writes to stdout and stderr until `restore()`:
 * Powertools loggers write through a Console bound to `process.stdout`/`process.stderr`, and the global console (which
 * the test runner replaces with its own) is wrapped as well, so nothing printed by code under test escapes the scan.
 */
export function captureOutput(): OutputCapture {
  const chunks: string[] = [];
  const streams = [process.stdout, process.stderr];
  const originalWrites = streams.map((stream) => stream.write);
  const consoleTarget = console as unknown as Record<string, unknown>;
  const originalConsole = CONSOLE_METHODS.map((name) => consoleTarget[name]);

  const intercept = ((
    chunk: string | Uint8Array,
    encoding?: BufferEncoding | WriteCallback,
    callback?: WriteCallback,
  ): boolean => {
    chunks.push(
      typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString(typeof encoding === 'string' ? encoding : 'utf8'),
    );
    const done = typeof encoding === 'function' ? encoding : callback;
    if (done) process.nextTick(done, null);
    return true;
  }) as typeof process.stdout.write;

  for (const stream of streams) stream.write = intercept;
  for (const name of CONSOLE_METHODS) {
    consoleTarget[name] = (...args: unknown[]) => {
      chunks.push(`${format(...args)}\n`);
    };
  }

  let restored = false;
  return {
    chunks,
    text: () => chunks.join(''),
    jsonLines: () =>
      chunks
        .join('')
        .split('\n')
        .flatMap((line) => {
          if (!line.trimStart().startsWith('{')) return [];
          try {
            const parsed: unknown = JSON.parse(line);
            return parsed && typeof parsed === 'object' ? [parsed as Record<string, unknown>] : [];
          } catch {
            return [];
          }
        }),
    restore: () => {
      if (restored) return;
      restored = true;
      streams.forEach((stream, i) => {
        stream.write = originalWrites[i] as typeof stream.write;
      });
      CONSOLE_METHODS.forEach((name, i) => {
        consoleTarget[name] = originalConsole[i];
      });
    },
  };
}

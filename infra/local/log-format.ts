import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { prettyFactory as PrettyFactory } from 'pino-pretty';
import { ConfigError } from '#shared/config';

/**
 * How the local runtime prints its logs. The handlers log what they log in AWS, one Powertools JSON object per line;
 * `pretty` turns each into one readable line (pino-pretty: time, level, function, message, then the other fields),
 * `json` leaves them as they are, for a log shipper or `jq`. Local only: nothing here is imported by a function.
 */
export type LogFormat = 'pretty' | 'json';

/**
 * `LOG_FORMAT`: `pretty` or `json`; unset, pretty on a terminal and JSON otherwise (a pipe, a file, a supervisor).
 * @throws ConfigError naming LOG_FORMAT
 */
export function parseLogFormat(value: string | undefined, isTerminal: boolean): LogFormat {
  const format = value?.trim().toLowerCase();
  if (format === undefined || format === '') return isTerminal ? 'pretty' : 'json';
  if (format === 'pretty' || format === 'json') return format;
  throw new ConfigError('Invalid configuration: LOG_FORMAT: must be pretty or json');
}

/** Powertools' keys that say nothing locally (every line would repeat them). */
const LAMBDA_KEYS = [
  'service',
  'sampling_rate',
  'cold_start',
  'function_arn',
  'function_memory_size',
  'function_name',
  'function_request_id',
  'xray_trace_id',
];

/**
 * One readable line per Powertools JSON log line; CloudWatch embedded-metric lines become `name=value` pairs. Any
 * other text passes unchanged.
 */
export function prettyLogLines(options: { colorize: boolean }): (text: string) => string {
  // Loaded here, not with the module: with LOG_FORMAT=json (a supervisor, the tests' and the soak's starts) no thread
  // of `npm start` pays its import (0.05 s of CPU each).
  const { prettyFactory } = createRequire(import.meta.url)('pino-pretty') as { prettyFactory: typeof PrettyFactory };
  const pretty = prettyFactory({
    colorize: options.colorize,
    singleLine: true,
    levelKey: 'level',
    messageKey: 'message',
    timestampKey: 'timestamp',
    translateTime: 'SYS:HH:MM:ss.l',
    customLevels: 'debug:20,info:30,warn:40,error:50,critical:60',
    messageFormat: '{if function}{function}: {end}{message}',
    ignore: [...LAMBDA_KEYS, 'function'].join(','),
  });
  const line = (text: string): string => {
    if (!text.startsWith('{')) return text;
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return text;
    }
    const metrics = metricsOf(record);
    if (metrics) return `[metrics] ${metrics}`;
    if (typeof record.level !== 'string' || typeof record.message !== 'string') return text;
    return pretty(text).replace(/\n$/, '');
  };
  return (text) => text.split('\n').map(line).join('\n');
}

/** The `name=value` pairs of a CloudWatch embedded metric format line (`_aws.CloudWatchMetrics`), if it is one. */
function metricsOf(record: Record<string, unknown>): string | undefined {
  const aws = record._aws as { CloudWatchMetrics?: Array<{ Metrics?: Array<{ Name?: string }> }> } | undefined;
  const names = aws?.CloudWatchMetrics?.flatMap((set) => set.Metrics ?? []).map((metric) => metric.Name);
  if (!names?.length) return undefined;
  return names.map((name) => `${name}=${JSON.stringify(record[name as string])}`).join(' ');
}

/**
 * Makes this process's stdout and stderr print pretty lines (see {@link prettyLogLines}); Powertools' loggers write
 * through them. With `json`, nothing changes.
 */
export function useLogFormat(format: LogFormat): void {
  if (format === 'json') return;
  for (const stream of [process.stdout, process.stderr]) {
    const format = prettyLogLines({ colorize: stream.isTTY === true });
    const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) =>
      write(typeof chunk === 'string' ? format(chunk) : chunk, ...rest)) as typeof stream.write;
  }
}

/**
 * In a worker thread: its stdout and stderr write straight to the process's file descriptors 1 and 2, formatted as
 * {@link useLogFormat} would, instead of being relayed. Node relays a worker's output as messages that the main thread
 * then writes out: a cost paid on the main thread's event loop, the one the intake answers on. Each write is one
 * `write(2)` of whole lines, so lines of several threads do not mix below the pipe's atomic size (4 KiB).
 * @param colorize whether each stream is a terminal, as the main thread sees it (a worker's streams are not)
 */
export function writeLogsFromThisThread(format: LogFormat, colorize: { stdout: boolean; stderr: boolean }): void {
  for (const [stream, fd, color] of [
    [process.stdout, 1, colorize.stdout],
    [process.stderr, 2, colorize.stderr],
  ] as const) {
    const pretty = format === 'pretty' ? prettyLogLines({ colorize: color }) : undefined;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
      writeFully(fd, pretty ? pretty(text) : text);
      const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    }) as typeof stream.write;
  }
}

/** Writes all of `text` to `fd`, waiting out a full pipe (EAGAIN: the descriptor may be non-blocking). */
function writeFully(fd: number, text: string): void {
  let bytes = Buffer.from(text, 'utf8');
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while (bytes.length > 0) {
    try {
      bytes = bytes.subarray(writeSync(fd, bytes));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') return;
      // The reader is behind: a millisecond's pause, as a blocking write would wait.
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

import { prettyFactory } from 'pino-pretty';
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

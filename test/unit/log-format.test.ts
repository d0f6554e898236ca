import { describe, expect, it } from 'vitest';
import { parseLogFormat, prettyLogLines } from '#infra/local/log-format';
import { ConfigError } from '#shared/config';

describe('LOG_FORMAT', () => {
  it('is pretty on a terminal and JSON elsewhere unless set, and refuses anything else by name', () => {
    expect(parseLogFormat(undefined, true)).toBe('pretty');
    expect(parseLogFormat(undefined, false)).toBe('json');
    expect(parseLogFormat('JSON', true)).toBe('json');
    expect(parseLogFormat('pretty', false)).toBe('pretty');
    expect(() => parseLogFormat('xml', true)).toThrow(ConfigError);
    expect(() => parseLogFormat('xml', true)).toThrow('LOG_FORMAT: must be pretty or json');
  });

  it('prints a Powertools log line as one readable line, without the Lambda fields every line repeats', () => {
    const pretty = prettyLogLines({ colorize: false });
    const line = JSON.stringify({
      level: 'WARN',
      message: 'Task failed',
      timestamp: '2026-11-30T10:47:37.102Z',
      service: 'gdpr-erasure',
      cold_start: false,
      function_request_id: '1b145335',
      sampling_rate: 0,
      function: 'referralrock-tasks',
      correlation_id: 'er_12190eb',
      status: 503,
    });

    const out = pretty(`${line}\n`);

    expect(out).toMatch(
      /^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: referralrock-tasks: Task failed \{.*"correlation_id":"er_12190eb".*\}\n$/,
    );
    expect(out).not.toContain('cold_start');
    expect(out).not.toContain('sampling_rate');
  });

  it('shows metrics as name=value and leaves other text alone', () => {
    const pretty = prettyLogLines({ colorize: false });
    const metrics = JSON.stringify({
      _aws: { CloudWatchMetrics: [{ Metrics: [{ Name: 'OverdueRequests' }, { Name: 'UnfinishedRequests' }] }] },
      OverdueRequests: 0,
      UnfinishedRequests: 2,
    });

    expect(pretty(metrics)).toBe('[metrics] OverdueRequests=0 UnfinishedRequests=2');
    expect(pretty('GDPR erasure service listening on http://127.0.0.1:3000\n')).toBe(
      'GDPR erasure service listening on http://127.0.0.1:3000\n',
    );
    expect(pretty('{not json')).toBe('{not json');
  });
});

import { describe, expect, it } from 'vitest';
import { startProblem } from '#infra/local/start-problem';
import { ThreadCallError } from '#infra/local/threads/rpc';
import { ConfigError } from '#shared/config';

describe('startProblem', () => {
  it('takes a setting refused on another thread for a setting: one line, exit 78', () => {
    // Errors cross threads by name and message only (threads/rpc.ts): the class is lost on the way.
    const fromThread = new ThreadCallError('ConfigError', 'Invalid configuration: FIRSTPROMOTER_API_KEY is required');

    expect(startProblem(fromThread)).toEqual({
      message: 'Invalid configuration: FIRSTPROMOTER_API_KEY is required',
      exitCode: 78,
    });
    expect(startProblem(new ConfigError('Invalid configuration: PORT'))?.exitCode).toBe(78);
  });

  it('leaves any other failure, of this thread or another, to keep its stack', () => {
    expect(startProblem(new ThreadCallError('TypeError', 'x is not a function'))).toBeUndefined();
    expect(startProblem(new Error('boom'))).toBeUndefined();
  });
});

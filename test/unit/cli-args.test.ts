import { describe, expect, it } from 'vitest';
import { wantsHelp, whyUnanswered } from '#infra/local/cli-args';
import { closedPort } from '#test/support/closed-port';

describe('whyUnanswered', () => {
  it('says why fetch got no answer, where its own message says only "fetch failed"', async () => {
    const refused = await fetch(`http://127.0.0.1:${await closedPort()}/`).catch((error: unknown) => error);
    // Port 6000 (X11) is one the Fetch standard blocks: refused before any connection is tried.
    const blocked = await fetch('http://127.0.0.1:6000/').catch((error: unknown) => error);

    expect(whyUnanswered(refused)).toBe('ECONNREFUSED');
    expect(whyUnanswered(blocked)).toBe('bad port');
    expect(whyUnanswered(new DOMException('The operation was aborted due to timeout', 'TimeoutError'))).toBe(
      'TimeoutError',
    );
  });
});

describe('wantsHelp', () => {
  it('is --help or -h anywhere among the options, not after --', () => {
    expect(wantsHelp(['--month', '2026-12', '--help'])).toBe(true);
    expect(wantsHelp(['-h'])).toBe(true);
    expect(wantsHelp(['--month', '2026-12'])).toBe(false);
    expect(wantsHelp(['--', '--help'])).toBe(false);
  });
});

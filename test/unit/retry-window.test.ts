import { describe, expect, it } from 'vitest';
import { retryWithinWindow } from '#shared/domain/workflow/retry-window';

/** The retry window (`retry-window.ts`): whether a failed provider step runs again, after how long, counted how. */

const at = (seconds: number) => new Date(Date.UTC(2026, 10, 30, 12) + seconds * 1000);
const HOUR = 3600;
const members = 'referralrock.members';

describe('the retry window of a failed provider step', () => {
  it('sends a step that failed for a reason a later try may clear back after a second, counting from now', () => {
    expect(retryWithinWindow(members, 'ProviderUnavailableError', undefined, at(0), HOUR)).toEqual({
      retryStepAfterSeconds: 1,
      failingSince: at(0).toISOString(),
      action: members,
    });
    for (const name of ['ProviderRateLimitError', 'TimeoutError', 'States.Timeout', 'Lambda.Unknown']) {
      expect(retryWithinWindow(members, name, undefined, at(0), HOUR)?.retryStepAfterSeconds).toBe(1);
    }
  });

  it('waits as long as the step has been failing, so the waits double, up to a tenth of the window and 5 minutes', () => {
    const since = { action: members, failingSince: at(0).toISOString() };
    expect(retryWithinWindow(members, 'ProviderUnavailableError', since, at(40), HOUR)?.retryStepAfterSeconds).toBe(40);
    expect(retryWithinWindow(members, 'ProviderUnavailableError', since, at(2000), HOUR)?.retryStepAfterSeconds).toBe(
      300,
    );
    expect(retryWithinWindow(members, 'ProviderUnavailableError', since, at(50), 60)?.retryStepAfterSeconds).toBe(6);
    // Never past the window's end.
    expect(retryWithinWindow(members, 'ProviderUnavailableError', since, at(57), 60)?.retryStepAfterSeconds).toBe(3);
    // The first failure's time is carried on, not moved.
    expect(retryWithinWindow(members, 'ProviderUnavailableError', since, at(40), HOUR)?.failingSince).toBe(
      at(0).toISOString(),
    );
  });

  it('settles the step once the window has passed since its first failure', () => {
    const since = { action: members, failingSince: at(0).toISOString() };
    expect(retryWithinWindow(members, 'ProviderUnavailableError', since, at(HOUR), HOUR)).toBeUndefined();
    expect(retryWithinWindow(members, 'ProviderUnavailableError', since, at(HOUR - 0.5), HOUR)).toBeUndefined();
  });

  it('settles at once a failure no retry can clear, and every failure when there is no window', () => {
    for (const name of ['ProviderRequestError', 'ProviderAuthError', 'BatchNotFoundError', 'Error', undefined]) {
      expect(retryWithinWindow(members, name, undefined, at(0), HOUR)).toBeUndefined();
    }
    expect(retryWithinWindow(members, 'ProviderUnavailableError', undefined, at(0), 0)).toBeUndefined();
  });

  it("counts from now when the state carries another action's first failure (the archive's, before the branches)", () => {
    const archive = { action: 'firstpromoter.promoters', failingSince: at(0).toISOString() };
    expect(retryWithinWindow(members, 'ProviderUnavailableError', archive, at(HOUR + 10), HOUR)).toEqual({
      retryStepAfterSeconds: 1,
      failingSince: at(HOUR + 10).toISOString(),
      action: members,
    });
  });

  it("keeps the execution history of any window it accepts under Step Functions' 25,000 events", () => {
    // Worst case: every round fails at once (no time spent in the step's tries). Each send-back costs at most about 32
    // events (seven invocations of three, the settle task's five, the Choice's and the Wait's two each, the step's
    // entry); four actions may each use a window in one execution; 1,000 events are left for the rest of the workflow.
    const sendsBack = (windowSeconds: number) => {
      let previous: ReturnType<typeof retryWithinWindow>;
      let now = 0;
      let count = 0;
      for (;;) {
        previous = retryWithinWindow(members, 'ProviderUnavailableError', previous, at(now), windowSeconds);
        if (!previous) return count;
        count++;
        now += previous.retryStepAfterSeconds;
      }
    };
    for (const windowSeconds of [60, HOUR, 6 * HOUR, 24 * HOUR, 3 * 24 * HOUR, 30 * 24 * HOUR]) {
      expect(4 * 32 * sendsBack(windowSeconds) + 1_000, `${windowSeconds} s`).toBeLessThan(25_000);
    }
    // The default window keeps its 5-minute waits.
    expect(
      retryWithinWindow(
        members,
        'Lambda.Unknown',
        { action: members, failingSince: at(0).toISOString() },
        at(3 * HOUR),
        6 * HOUR,
      )?.retryStepAfterSeconds,
    ).toBe(300);
  });

  it('settles a step whose settle task comes back from its own deferral, rather than start the window again', () => {
    // Past the window the settle task searches; a search that must wait for a rate-budget slot (or a Retry-After)
    // answers { retryAfterSeconds }, which replaces the answer that carried failingSince, and the settle runs again.
    const deferred = { retryAfterSeconds: 30 };
    for (const name of ['ProviderRateLimitError', 'ProviderUnavailableError', 'TimeoutError']) {
      expect(retryWithinWindow(members, name, deferred, at(6 * HOUR + 40), 6 * HOUR)).toBeUndefined();
    }
  });
});

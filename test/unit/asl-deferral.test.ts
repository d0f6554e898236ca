import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ASL_PATH } from '#infra/local/workflow-engine';
import { retryWithinWindow } from '#shared/domain/workflow/retry-window';

/**
 * The state machine's side of the time budget: every Task that calls a provider can come back later through a Wait
 * state, and a task cut off by its own budget (`TimeoutError`) is retried like one cut off by the platform.
 */

interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  BackoffRate?: number;
  MaxAttempts?: number;
  MaxDelaySeconds?: number;
}
interface State {
  Type: string;
  Resource?: string;
  Parameters?: Record<string, unknown>;
  ResultPath?: string | null;
  Next?: string;
  Default?: string;
  Choices?: Array<{ Variable: string; IsPresent?: boolean; Next: string }>;
  SecondsPath?: string;
  InputPath?: string;
  Retry?: Retrier[];
  Branches?: Array<{ States: Record<string, State> }>;
}

const definition = JSON.parse(readFileSync(ASL_PATH, 'utf8')) as { States: Record<string, State> };
/** The provider functions' `definitionSubstitutions` placeholders (`${Name}`), as the ASL file holds them. */
const PROVIDER_FUNCTIONS = ['ReferralRockTasksFunctionArn', 'FirstPromoterTasksFunctionArn'].map(
  (name) => `\${${name}}`,
);

/** Every state with the states of its own scope (a Parallel branch's states see only each other). */
function scopes(states: Record<string, State>): Array<Record<string, State>> {
  return [states, ...Object.values(states).flatMap((s) => (s.Branches ?? []).flatMap((b) => scopes(b.States)))];
}
const allStates = scopes(definition.States).flatMap((scope) =>
  Object.entries(scope).map(([name, state]) => ({ name, state, scope })),
);
const providerTasks = allStates.filter(
  ({ state }) => state.Type === 'Task' && PROVIDER_FUNCTIONS.includes(state.Resource ?? ''),
);

describe('the erasure state machine on time budgets', () => {
  it('has the provider tasks the deferral pattern is for: five steps and the four read-backs of their Catch', () => {
    expect(providerTasks.map((t) => t.name).sort()).toEqual([
      'ArchivePromoters',
      'EraseReferralRockMembers',
      'EraseReferralRockReferrals',
      'PollFirstPromoterBatch',
      'SettleArchivePromoters',
      'SettleFirstPromoterReferrals',
      'SettleReferralRockMembers',
      'SettleReferralRockReferrals',
      'StartFirstPromoterReferralDeletion',
    ]);
  });

  it.each(providerTasks.map((t) => [t.name, t] as const))('lets %s come back later through a Wait state', (name, t) => {
    const resultPath = t.state.ResultPath as string;
    expect(typeof resultPath).toBe('string');
    // A deferral must not overwrite what the task reads on its next run.
    const input = (t.state.Parameters?.['input.$'] as string | undefined) ?? '$';
    expect(resultPath === input || input.startsWith(`${resultPath}.`)).toBe(false);

    const choice = t.scope[t.state.Next as string];
    expect(choice?.Type).toBe('Choice');
    const deferred = choice?.Choices?.find((c) => c.Variable === `${resultPath}.retryAfterSeconds`);
    expect(deferred?.IsPresent).toBe(true);
    const wait = t.scope[deferred?.Next as string];
    expect(wait).toMatchObject({ Type: 'Wait', SecondsPath: `${resultPath}.retryAfterSeconds`, Next: name });
    expect(choice?.Default).toBeDefined();
  });

  it.each(providerTasks.filter((t) => t.name.startsWith('Settle')).map((t) => [t.name, t] as const))(
    'lets %s send its step back, within the retry window, through a Wait state',
    (name, t) => {
      // The settle task reads what it answered last time from the state it is given whole.
      expect((t.state.Parameters?.input as Record<string, unknown> | undefined)?.['state.$']).toBe('$');
      const caught = allStates.filter(({ state }) =>
        (state as { Catch?: Array<{ Next: string }> }).Catch?.some((c) => c.Next === name),
      );
      expect(caught.length).toBeGreaterThan(0);
      const choice = t.scope[t.state.Next as string];
      const retry = choice?.Choices?.find((c) => c.Variable === '$.settle.retryStepAfterSeconds');
      expect(retry?.IsPresent).toBe(true);
      const wait = t.scope[retry?.Next as string];
      expect(wait).toMatchObject({ Type: 'Wait', SecondsPath: '$.settle.retryStepAfterSeconds' });
      // Back to the step that starts the action (a batch poll's settle goes back to the start, which resumes the batch).
      expect(caught.map((c) => c.name)).toContain(wait?.Next);
      expect(t.scope[wait?.Next as string]?.Type).toBe('Task');
    },
  );

  it('waits out, within the retry window, every error the state machine retries a provider step for', () => {
    // The Retry says which errors a later try may clear; its Catch's settle task must agree, or a burst of such an
    // error outlasting the quick tries is settled by a read-back that records as not erased what a later try erases.
    const steps = providerTasks.filter((t) => !t.name.startsWith('Settle'));
    expect(steps.length).toBe(5);
    const now = new Date('2026-11-30T12:00:00Z');
    for (const { name, state } of steps) {
      for (const error of (state.Retry ?? []).flatMap((r) => r.ErrorEquals)) {
        expect(
          retryWithinWindow('referralrock.members', error, undefined, now, 3600),
          `${name}: ${error}`,
        ).toBeDefined();
      }
    }
  });

  it("lets no settle task's answer outlive its action: a failure record that goes on replaces it", () => {
    // A settle task that was deferred leaves { retryAfterSeconds } at its ResultPath, which the settle tasks of later
    // actions read (the archive's is inherited by the three branches) as the answer of a settle task deferred by them.
    for (const t of providerTasks.filter((p) => p.name.startsWith('Settle'))) {
      const catches = (t.state as { Catch?: Array<{ Next: string }> }).Catch ?? [];
      expect(catches.length).toBeGreaterThan(0);
      for (const { Next } of catches) {
        const record = t.scope[Next] as State & { End?: boolean };
        if (record.End) continue;
        expect(record.ResultPath, `${Next}, after ${t.name}`).toBe(t.state.ResultPath);
      }
    }
  });

  it('retries a task cut off by its own time budget (TimeoutError) wherever it retries States.Timeout', () => {
    const retriers = allStates.flatMap(({ state }) => state.Retry ?? []);
    const timeouts = retriers.filter((r) => r.ErrorEquals.includes('States.Timeout'));

    expect(timeouts.length).toBe(allStates.filter(({ state }) => state.Type === 'Task').length);
    for (const retrier of timeouts) expect(retrier.ErrorEquals).toContain('TimeoutError');
  });

  it('keeps a throttled provider task retrying, on average, longer than a backlog of 10,000 takes to drain', () => {
    // README: 10,000 requests with 10 % present take about 3 h 27 min at Referral Rock's ceiling.
    const drainSeconds = 3 * 3600 + 27 * 60;
    for (const { name, state } of providerTasks) {
      const throttled = state.Retry?.find((r) => r.ErrorEquals.includes('Lambda.TooManyRequestsException'));
      const { IntervalSeconds = 1, BackoffRate = 2, MaxAttempts = 3, MaxDelaySeconds = Infinity } = throttled ?? {};
      let longest = 0;
      for (let k = 0; k < MaxAttempts; k++) longest += Math.min(MaxDelaySeconds, IntervalSeconds * BackoffRate ** k);
      // Full jitter waits, on average, half of each interval.
      expect(longest / 2, name).toBeGreaterThan(drainSeconds);
    }
  });
});

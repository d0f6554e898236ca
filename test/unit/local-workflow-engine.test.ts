import { describe, expect, it } from 'vitest';
import { LocalWorkflowEngine, type TaskFunction, type WorkflowSchedule } from '#infra/local/workflow-engine';
import { createLogger } from '#shared/observability';
import { runWithinBudget, throwIfBudgetEnded } from '#shared/workflow/invocation-budget';
import type { TaskEvent } from '#shared/workflow/task-handler';

/**
 * The local engine's queue: at most `maxConcurrent` executions at once, earliest `dueAt` first (then `receivedAt`, then
 * arrival), idempotent starts, cancel of a queued request, crash semantics. Each execution here is the real ASL whose
 * first step (LoadRequest) is held open until the test releases it, then answers "nothing to do".
 */

interface Gate {
  /** Request ids in the order their first step began. */
  began: string[];
  /** Most first steps open at once. */
  peak: number;
  release(requestId: string): void;
  /** Resolves when `count` first steps have begun. */
  begun(count: number): Promise<void>;
  engine: LocalWorkflowEngine;
}

function gatedEngine(
  options: { maxConcurrent?: number; scheduleOf?: (id: string) => Promise<WorkflowSchedule | undefined> } = {},
): Gate {
  const began: string[] = [];
  const releases = new Map<string, () => void>();
  const waiters: Array<() => void> = [];
  let open = 0;
  const gate = {
    began,
    peak: 0,
    release: (requestId: string) => releases.get(requestId)?.(),
    begun: (count: number) =>
      new Promise<void>((resolve) => {
        const check = () => (began.length >= count ? resolve() : waiters.push(check));
        check();
      }),
  };
  const loadRequest: TaskFunction = async (event: TaskEvent) => {
    const { requestId } = event.input as { requestId: string };
    began.push(requestId);
    open++;
    gate.peak = Math.max(gate.peak, open);
    for (const waiter of waiters.splice(0)) waiter();
    await new Promise<void>((resolve) => releases.set(requestId, resolve));
    open--;
    return { proceed: false };
  };
  const unused: TaskFunction = async () => {
    throw new Error('not reached: LoadRequest answers proceed=false');
  };
  const engine = new LocalWorkflowEngine({
    functions: {
      RequestTasksFunctionArn: { name: 'request-tasks', handler: loadRequest },
      ReferralRockTasksFunctionArn: { name: 'referralrock-tasks', handler: unused },
      FirstPromoterTasksFunctionArn: { name: 'firstpromoter-tasks', handler: unused },
    },
    logger: createLogger('test', { logLevel: 'SILENT' }),
    ...(options.maxConcurrent === undefined ? {} : { maxConcurrent: options.maxConcurrent }),
    ...(options.scheduleOf ? { scheduleOf: options.scheduleOf } : {}),
  });
  return {
    ...gate,
    engine,
    get peak() {
      return gate.peak;
    },
  };
}

const due = (day: number, receivedSecond = 0): WorkflowSchedule => ({
  dueAt: `2026-12-${String(day).padStart(2, '0')}T23:59:59.999Z`,
  receivedAt: `2026-11-01T00:00:${String(receivedSecond).padStart(2, '0')}.000Z`,
});

describe('LocalWorkflowEngine queue', () => {
  it('runs at most maxConcurrent executions and starts the rest earliest dueAt first, ties in received order', async () => {
    const g = gatedEngine({ maxConcurrent: 2 });
    await g.engine.start('first', due(20));
    await g.engine.start('second', due(20));
    await g.begun(2);
    // Queued while both slots are busy, in an order unlike their deadlines.
    await g.engine.start('late', due(28));
    await g.engine.start('tie-received-later', due(5, 30));
    await g.engine.start('soonest', due(3));
    await g.engine.start('tie-received-earlier', due(5, 10));
    await g.engine.start('tie-same-receipt-arrived-last', due(5, 30));

    expect(g.engine.runningCount).toBe(2);
    expect(g.engine.queuedCount).toBe(5);
    for (let n = 0; n < 5; n++) {
      g.release(g.began[n] as string);
      await g.begun(3 + n);
    }
    g.release(g.began[5] as string);
    g.release(g.began[6] as string);
    await g.engine.idle();

    expect(g.began.slice(2)).toEqual([
      'soonest',
      'tie-received-earlier',
      'tie-received-later',
      'tie-same-receipt-arrived-last',
      'late',
    ]);
    expect(g.peak).toBe(2);
    expect(g.engine.runningCount + g.engine.queuedCount).toBe(0);
  });

  it('reads the deadline of a request started without one (as the intake starts it)', async () => {
    const deadlines: Record<string, WorkflowSchedule> = { a: due(9), b: due(2), c: due(4) };
    const g = gatedEngine({ maxConcurrent: 1, scheduleOf: async (id) => deadlines[id] });
    await g.engine.start('blocker', due(1));
    await g.begun(1);
    for (const id of ['a', 'b', 'c', 'unknown']) await g.engine.start(id);
    await new Promise((resolve) => setTimeout(resolve, 0));

    for (let n = 0; n < 4; n++) {
      g.release(g.began[n] as string);
      await g.begun(2 + n);
    }
    g.release(g.began[4] as string);
    await g.engine.idle();

    // A request whose deadline cannot be read still runs, behind every placed one.
    expect(g.began).toEqual(['blocker', 'b', 'c', 'a', 'unknown']);
  });

  it('reads the deadline after the starting invocation has ended: the intake answers, its request is still placed', async () => {
    const deadlines: Record<string, WorkflowSchedule> = { a: due(9), b: due(2), c: due(4) };
    // As the DynamoDB adapter does: no call once the budget of the invocation it runs in has ended.
    const scheduleOf = async (id: string) => {
      await new Promise((resolve) => setTimeout(resolve, 0));
      throwIfBudgetEnded();
      return deadlines[id];
    };
    const g = gatedEngine({ maxConcurrent: 1, scheduleOf });
    await g.engine.start('blocker', due(1));
    await g.begun(1);
    // Each start made within an intake's budget, which ends when the intake has answered.
    for (const id of ['a', 'b', 'c']) await runWithinBudget(30_000, () => g.engine.start(id));
    await new Promise((resolve) => setTimeout(resolve, 0));

    for (let n = 0; n < 3; n++) {
      g.release(g.began[n] as string);
      await g.begun(2 + n);
    }
    g.release(g.began[3] as string);
    await g.engine.idle();

    expect(g.began).toEqual(['blocker', 'b', 'c', 'a']);
  });

  it('treats a second start of a queued or running request as a no-op, and a queued one as running', async () => {
    const g = gatedEngine({ maxConcurrent: 1 });
    await g.engine.start('running', due(1));
    await g.begun(1);
    await g.engine.start('queued', due(2));

    await g.engine.start('running', due(1));
    await g.engine.start('queued', due(2));
    expect(await g.engine.ensureRunning('queued')).toBe('running');
    expect(await g.engine.ensureRunning('running')).toBe('running');
    expect(g.engine.queuedCount).toBe(1);

    g.release('running');
    await g.begun(2);
    g.release('queued');
    await g.engine.idle();
    expect(g.began).toEqual(['running', 'queued']);
  });

  it('takes a stopped (canceled) request out of the queue: it never runs, and settled() resolves', async () => {
    const g = gatedEngine({ maxConcurrent: 1 });
    await g.engine.start('running', due(1));
    await g.begun(1);
    await g.engine.start('canceled', due(2));
    await g.engine.start('kept', due(3));

    await g.engine.stop('canceled');
    await g.engine.settled('canceled');
    g.release('running');
    await g.begun(2);
    g.release('kept');
    await g.engine.idle();

    expect(g.began).toEqual(['running', 'kept']);
  });

  it('settled() of a queued request waits until it has run', async () => {
    const g = gatedEngine({ maxConcurrent: 1 });
    await g.engine.start('running', due(1));
    await g.begun(1);
    await g.engine.start('queued', due(2));
    let settled = false;
    const waiting = g.engine.settled('queued').then(() => {
      settled = true;
    });

    g.release('running');
    await g.begun(2);
    expect(settled).toBe(false);
    g.release('queued');
    await waiting;
    expect(settled).toBe(true);
  });

  it('abortAll, as a crash: nothing queued starts afterwards, and a later start queues it again', async () => {
    const g = gatedEngine({ maxConcurrent: 1 });
    await g.engine.start('running', due(1));
    await g.begun(1);
    await g.engine.start('queued', due(2));

    const aborted = g.engine.abortAll();
    // The invocation under way is let finish (no write cut off halfway); the aborted execution does not go on.
    g.release('running');
    await aborted;
    await g.engine.idle();
    expect(g.began).toEqual(['running']);
    expect(g.engine.queuedCount).toBe(0);

    await g.engine.start('queued', due(2));
    await g.begun(2);
    g.release('queued');
    await g.engine.idle();
    expect(g.began).toEqual(['running', 'queued']);
  });
});

describe('a stop during a Retry pause', () => {
  it('invokes the task no more, as a stopped execution in AWS', async () => {
    const calls: string[] = [];
    let failed: () => void = () => {};
    const firstFailure = new Promise<void>((resolve) => {
      failed = resolve;
    });
    // LoadRequest fails with an error its Retry lists; the pause before the next try lasts until the stop.
    const loadRequest: TaskFunction = async (event: TaskEvent) => {
      calls.push((event.input as { requestId: string }).requestId);
      failed();
      throw Object.assign(new Error('throttled'), { name: 'ThrottlingException' });
    };
    const unused: TaskFunction = async () => ({});
    const engine = new LocalWorkflowEngine({
      functions: {
        RequestTasksFunctionArn: { name: 'request-tasks', handler: loadRequest },
        ReferralRockTasksFunctionArn: { name: 'referralrock-tasks', handler: unused },
        FirstPromoterTasksFunctionArn: { name: 'firstpromoter-tasks', handler: unused },
      },
      logger: createLogger('test', { logLevel: 'SILENT' }),
      retryIntervalOverrides: { LoadRequest: 600_000 },
    });
    await engine.start('er_stop_in_retry', {
      dueAt: '2026-12-01T00:00:00.000Z',
      receivedAt: '2026-11-01T00:00:00.000Z',
    });
    await firstFailure;

    await engine.stop('er_stop_in_retry');

    expect(calls).toEqual(['er_stop_in_retry']);
  });
});

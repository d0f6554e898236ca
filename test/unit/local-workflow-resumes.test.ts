import { describe, expect, it } from 'vitest';
import { LocalWorkflowEngine, type TaskFunction } from '#infra/local/workflow-engine';
import { createLogger } from '#shared/observability';
import { MAX_WORKFLOW_RESUMES } from '#shared/ports/audit';

/**
 * The sweeper's `ensureRunning` on the local engine: as Step Functions redrives a failed execution at most
 * MAX_WORKFLOW_RESUMES times and then answers `gave-up` (the sweeper's stuck report, an operator's alarm), so does the
 * local engine; it used to start an always-failing workflow again at every sweep (every 5 minutes) for ever, and no
 * sweep ever reported it stuck.
 */

const schedule = { dueAt: '2026-12-31T23:59:59.999Z', receivedAt: '2026-12-01T00:00:00.000Z' };

function engineWith(loadRequest: TaskFunction): LocalWorkflowEngine {
  const unused: TaskFunction = async () => {
    throw new Error('not reached');
  };
  return new LocalWorkflowEngine({
    functions: {
      RequestTasksFunctionArn: { name: 'request-tasks', handler: loadRequest },
      ReferralRockTasksFunctionArn: { name: 'referralrock-tasks', handler: unused },
      FirstPromoterTasksFunctionArn: { name: 'firstpromoter-tasks', handler: unused },
    },
    logger: createLogger('test', { logLevel: 'SILENT' }),
  });
}

describe('LocalWorkflowEngine.ensureRunning of a workflow that keeps failing', () => {
  it('resumes it MAX_WORKFLOW_RESUMES times, then gives up (stuck) without starting it again', async () => {
    let runs = 0;
    // Not an error the ASL retries: the execution fails at once, as one failing past its retries does.
    const engine = engineWith(async () => {
      runs++;
      throw new Error('always failing');
    });
    await engine.start('req-failing', schedule);
    await engine.settled('req-failing');

    const answers: string[] = [];
    for (let sweep = 0; sweep < MAX_WORKFLOW_RESUMES + 2; sweep++) {
      answers.push(await engine.ensureRunning('req-failing'));
      await engine.settled('req-failing');
    }

    expect(answers).toEqual([...Array(MAX_WORKFLOW_RESUMES).fill('started'), 'gave-up', 'gave-up']);
    expect(runs).toBe(1 + MAX_WORKFLOW_RESUMES);
  });

  it('counts only the failures since the last run that did not fail', async () => {
    let runs = 0;
    let fail = true;
    const engine = engineWith(async () => {
      runs++;
      if (fail) throw new Error('failing for now');
      return { proceed: false };
    });
    await engine.start('req-recovers', schedule);
    await engine.settled('req-recovers');
    for (let sweep = 1; sweep < MAX_WORKFLOW_RESUMES; sweep++) {
      expect(await engine.ensureRunning('req-recovers')).toBe('started');
      await engine.settled('req-recovers');
    }
    fail = false;
    expect(await engine.ensureRunning('req-recovers')).toBe('started');
    await engine.settled('req-recovers');
    // The cause was fixed: a later failure gets the full number of resumes again.
    fail = true;
    for (let sweep = 0; sweep <= MAX_WORKFLOW_RESUMES; sweep++) {
      expect(await engine.ensureRunning('req-recovers')).toBe('started');
      await engine.settled('req-recovers');
    }
    expect(await engine.ensureRunning('req-recovers')).toBe('gave-up');
    expect(runs).toBe(MAX_WORKFLOW_RESUMES + 1 + MAX_WORKFLOW_RESUMES + 1);
  });

  it('starts a given-up request again when asked to start it (a restart of the service, an operator)', async () => {
    let runs = 0;
    const engine = engineWith(async () => {
      runs++;
      throw new Error('always failing');
    });
    await engine.start('req-again', schedule);
    await engine.settled('req-again');
    for (let sweep = 0; sweep < MAX_WORKFLOW_RESUMES; sweep++) {
      await engine.ensureRunning('req-again');
      await engine.settled('req-again');
    }
    expect(await engine.ensureRunning('req-again')).toBe('gave-up');

    await engine.start('req-again', schedule);
    await engine.settled('req-again');

    expect(runs).toBe(MAX_WORKFLOW_RESUMES + 2);
  });
});

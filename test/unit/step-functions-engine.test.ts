import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  ExecutionNotRedrivable,
  RedriveExecutionCommand,
  type SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { executionArn, StepFunctionsWorkflowEngine } from '#shared/adapters/workflow/step-functions';

/** The AWS workflow engine against a scripted Step Functions client: names, ARNs, idempotency, resume. */

const MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:Erasure';
const meta = { $metadata: {} };

function engine(answer: (command: unknown) => unknown) {
  const sent: unknown[] = [];
  const sfn = {
    send: async (command: unknown) => {
      sent.push(command);
      const result = answer(command);
      if (result instanceof Error) throw result;
      return result;
    },
  } as unknown as SFNClient;
  return { engine: new StepFunctionsWorkflowEngine(sfn, MACHINE), sent };
}

const described =
  (status: string, redriveCount = 0) =>
  (command: unknown) =>
    command instanceof DescribeExecutionCommand ? { status, redriveCount } : {};

describe('StepFunctionsWorkflowEngine', () => {
  it('starts an execution named by the request id with only the request id as input', async () => {
    const { engine: e, sent } = engine(() => ({}));

    await e.start('er_1');

    expect(sent[0]).toBeInstanceOf(StartExecutionCommand);
    expect((sent[0] as StartExecutionCommand).input).toEqual({
      stateMachineArn: MACHINE,
      name: 'er_1',
      input: '{"requestId":"er_1"}',
    });
  });

  it('carries the chain head intake left and the receipt time, nothing else of the request, into the input', async () => {
    const { engine: e, sent } = engine(() => ({}));
    const lastEvent = { seq: 1, hash: 'a'.repeat(64) };

    await e.start('er_1', { dueAt: '2026-12-01T00:00:00.000Z', receivedAt: '2026-11-01T00:00:00.000Z', lastEvent });

    expect(JSON.parse((sent[0] as StartExecutionCommand).input.input ?? '')).toEqual({
      requestId: 'er_1',
      receivedAt: '2026-11-01T00:00:00.000Z',
      lastEvent,
    });
  });

  it('treats a start of an existing execution as done', async () => {
    const { engine: e } = engine(() => new ExecutionAlreadyExists({ message: 'exists', ...meta }));

    await expect(e.start('er_1')).resolves.toBeUndefined();
  });

  it('stops the execution of the request, and treats a missing one as stopped', async () => {
    const { engine: e, sent } = engine(() => new ExecutionDoesNotExist({ message: 'none', ...meta }));

    await expect(e.stop('er_1')).resolves.toBeUndefined();

    expect(sent[0]).toBeInstanceOf(StopExecutionCommand);
    expect((sent[0] as StopExecutionCommand).input.executionArn).toBe(
      'arn:aws:states:eu-west-1:123456789012:execution:Erasure:er_1',
    );
    expect(executionArn(MACHINE, 'er_1')).toBe('arn:aws:states:eu-west-1:123456789012:execution:Erasure:er_1');
  });

  it('starts a workflow that never started', async () => {
    const { engine: e, sent } = engine((command) =>
      command instanceof DescribeExecutionCommand ? new ExecutionDoesNotExist({ message: 'none', ...meta }) : {},
    );

    expect(await e.ensureRunning('er_1')).toBe('started');
    expect(sent[1]).toBeInstanceOf(StartExecutionCommand);
  });

  it.each([
    ['RUNNING', 0, 'running'],
    ['SUCCEEDED', 0, 'ended'],
    ['FAILED', 0, 'redriven'],
    ['TIMED_OUT', 2, 'redriven'],
    ['FAILED', 3, 'gave-up'],
  ] as const)('with an execution %s after %i redrives: %s', async (status, redrives, expected) => {
    const { engine: e, sent } = engine(described(status, redrives));

    expect(await e.ensureRunning('er_1')).toBe(expected);
    expect(sent.some((c) => c instanceof RedriveExecutionCommand)).toBe(expected === 'redriven');
  });

  it('gives up on a failed execution Step Functions cannot redrive, rather than throw at every sweep', async () => {
    // Described as not redrivable (history limit reached, or failed more than 14 days ago): not even tried.
    const notRedrivable = engine((command) =>
      command instanceof DescribeExecutionCommand
        ? { status: 'FAILED', redriveCount: 0, redriveStatus: 'NOT_REDRIVABLE' }
        : {},
    );
    await expect(notRedrivable.engine.ensureRunning('er_1')).resolves.toBe('gave-up');
    expect(notRedrivable.sent.some((c) => c instanceof RedriveExecutionCommand)).toBe(false);

    // Refused by the redrive itself (it became so since the describe).
    const refused = engine((command) =>
      command instanceof DescribeExecutionCommand
        ? { status: 'FAILED', redriveCount: 1 }
        : command instanceof RedriveExecutionCommand
          ? new ExecutionNotRedrivable({ message: 'Execution history event limit exceeded', $metadata: {} })
          : {},
    );
    await expect(refused.engine.ensureRunning('er_1')).resolves.toBe('gave-up');
  });
});

import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SFNClient } from '@aws-sdk/client-sfn';
import { afterEach, describe, expect, it } from 'vitest';
import { RECEIPT_ASL_PATH } from '#infra/local/workflow-engine';
import { StepFunctionsReceiptIssuer } from '#shared/adapters/workflow/receipt-workflow';
import { ReceiptIssueError } from '#shared/errors';
import { runWithinBudget } from '#shared/workflow/invocation-budget';
import {
  RECEIPT_ISSUE_TIMEOUT_SECONDS,
  RECEIPT_ISSUER_TIMEOUT_SECONDS,
  TREE_HEAD_PUBLISHER_TIMEOUT_SECONDS,
} from '#shared/workflow/receipt-time';

const MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:Receipts';

let server: Server | undefined;
afterEach(() => {
  server?.close();
  server = undefined;
});

/**
 * Step Functions' JSON protocol on loopback, answering StartSyncExecution with `answer` (what an Express execution
 * that succeeded, or failed, returns), through the real SDK client: the operation, its input and its answer's parsing.
 */
async function issuer(answer: Record<string, unknown>) {
  const calls: Array<{ target: string | undefined; body: Record<string, unknown> }> = [];
  const listening = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      calls.push({
        target: req.headers['x-amz-target'] as string | undefined,
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
      });
      res.writeHead(200, { 'Content-Type': 'application/x-amz-json-1.0' }).end(JSON.stringify(answer));
    });
  });
  server = listening;
  await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
  const sfn = new SFNClient({
    region: 'eu-west-1',
    endpoint: `http://127.0.0.1:${(listening.address() as AddressInfo).port}`,
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' },
    // StartSyncExecution goes to `sync-<host>`; a loopback address has no such name.
    disableHostPrefix: true,
  });
  return { receipts: new StepFunctionsReceiptIssuer(sfn, MACHINE), calls };
}

const started = { executionArn: `${MACHINE.replace(':stateMachine:', ':express:')}:x:y`, startDate: 1, stopDate: 2 };

describe('Receipts through the receipt state machine', () => {
  it('runs it synchronously with the request id alone, and resolves when the execution succeeded', async () => {
    const { receipts, calls } = await issuer({ ...started, status: 'SUCCEEDED', output: '{"treeSize":3}' });

    await receipts.issue('er_1');

    expect(calls).toEqual([
      {
        target: 'AWSStepFunctions.StartSyncExecution',
        body: { stateMachineArn: MACHINE, input: '{"requestId":"er_1"}' },
      },
    ]);
  });

  it('fails with ReceiptIssueError naming the error kind, never the cause, when the execution failed', async () => {
    const { receipts } = await issuer({
      ...started,
      status: 'FAILED',
      error: 'ThrottlingException',
      cause: '{"errorMessage":"Rate exceeded for er_1"}',
    });

    const failure = await receipts.issue('er_1').catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(ReceiptIssueError);
    expect((failure as Error).message).toBe('The receipt of er_1 was not issued: ThrottlingException');
  });

  it('fails when the execution timed out, with its status', async () => {
    const { receipts } = await issuer({ ...started, status: 'TIMED_OUT' });

    await expect(receipts.issue('er_1')).rejects.toThrow('The receipt of er_1 was not issued: TIMED_OUT');
  });

  it('starts no execution its caller could not wait out: too little of the invocation is left', async () => {
    const { receipts, calls } = await issuer({ ...started, status: 'SUCCEEDED', output: '{}' });

    // The cancel-request function's 28 s, with its work before the receipt done: 10 s left of its budget.
    const failure = await runWithinBudget(11_000, () => receipts.issue('er_1')).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(ReceiptIssueError);
    expect((failure as Error).message).toMatch(/^The receipt of er_1 was not started: \d+ s left/);
    expect(calls).toHaveLength(0);
    // With the whole of the execution's time left, it runs.
    await runWithinBudget(30_000, () => receipts.issue('er_1'));
    expect(calls).toHaveLength(1);
  });
});

describe('the receipt state machine against its callers', () => {
  type Retrier = { IntervalSeconds: number; MaxAttempts: number; BackoffRate?: number };
  const definition = JSON.parse(readFileSync(RECEIPT_ASL_PATH, 'utf8')) as {
    TimeoutSeconds: number;
    StartAt: string;
    States: Record<string, { Type: string; Next?: string; End?: boolean; Retry?: Retrier[] }>;
  };

  it('times out when the callers stop waiting for it, and every try of the issuer and the publisher ends before that', () => {
    expect(definition.TimeoutSeconds).toBe(RECEIPT_ISSUE_TIMEOUT_SECONDS);
    // The Tasks in the order they run, each with its function's timeout.
    const timeouts: Record<string, number> = {
      IssueReceipt: RECEIPT_ISSUER_TIMEOUT_SECONDS,
      PublishTreeHead: TREE_HEAD_PUBLISHER_TIMEOUT_SECONDS,
    };
    const path: string[] = [];
    for (let name: string | undefined = definition.StartAt; name; name = definition.States[name]?.Next) path.push(name);
    expect(path).toEqual(['IssueReceipt', 'PublishTreeHead']);
    let longest = 0;
    for (const name of path) {
      const retry = definition.States[name]?.Retry ?? [];
      const retries = retry.reduce((n, r) => Math.max(n, r.MaxAttempts), 0);
      const pauses = retry.reduce((most, r) => {
        let total = 0;
        for (let i = 0; i < r.MaxAttempts; i++) total += r.IntervalSeconds * (r.BackoffRate ?? 2) ** i;
        return Math.max(most, total);
      }, 0);
      longest += (retries + 1) * (timeouts[name] as number) + pauses;
    }
    expect(longest).toBeLessThanOrEqual(definition.TimeoutSeconds);
  });
});

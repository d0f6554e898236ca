import { MessageChannel } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { callerOf, connectPort, serveCalls, ThreadCallError } from '#infra/local/threads/rpc';

/** The calls between the local runtime's threads, over a MessageChannel in one thread (the same structured clone). */
describe('thread calls', () => {
  const channels: MessageChannel[] = [];
  const channel = () => {
    const created = new MessageChannel();
    channels.push(created);
    return created;
  };
  afterEach(() => {
    for (const { port1, port2 } of channels.splice(0)) {
      port1.close();
      port2.close();
    }
  });

  it('answers a call with the method result, and a failure with its name and message only', async () => {
    // Prepare
    const { port1, port2 } = channel();
    class ProviderTimeoutError extends Error {
      override name = 'ProviderTimeoutError';
    }
    serveCalls(
      port1,
      {
        add: (a: number, b: number) => a + b,
        fail: async () => {
          throw new ProviderTimeoutError('no answer within 2000 ms', { cause: new Error('inner detail') });
        },
      },
      () => undefined,
    );
    const caller = callerOf<{ add(a: number, b: number): number; fail(): Promise<void> }>(port2);

    // Act
    const sum = await caller.call('add', 2, 3);
    const failure = await caller.call('fail').catch((error: unknown) => error);

    // Assess
    expect(sum).toBe(5);
    expect(failure).toBeInstanceOf(ThreadCallError);
    expect(failure).toMatchObject({ name: 'ProviderTimeoutError', message: 'no answer within 2000 ms' });
    expect((failure as Error).cause).toBeUndefined();
  });

  it('posts without waiting for the other side, whose failure goes to its own handler', async () => {
    // Prepare
    const { port1, port2 } = channel();
    const started: string[] = [];
    const failures: string[] = [];
    let release = () => {};
    const busy = new Promise<void>((resolve) => {
      release = resolve;
    });
    serveCalls(
      port1,
      {
        start: async (id: string) => {
          await busy;
          if (id === 'bad') throw new Error('refused');
          started.push(id);
        },
        done: () => started.length,
      },
      (method, error) => failures.push(`${method}: ${(error as Error).message}`),
    );
    const caller = callerOf<{ start(id: string): Promise<void>; done(): number }>(port2);

    // Act: the posts return while the other side is still busy
    caller.post('start', 'er_1');
    caller.post('start', 'bad');
    const before = [...started];
    release();
    await until(() => failures.length > 0 && started.length > 0);

    // Assess
    expect(before).toEqual([]);
    expect(started).toEqual(['er_1']);
    expect(failures).toEqual(['start: refused']);
  });

  it('fails every call still waiting when the other thread ends, and later ones at once', async () => {
    // Prepare
    const { port1, port2 } = channel();
    serveCalls(port1, { never: () => new Promise(() => {}) }, () => undefined);
    const caller = callerOf<{ never(): Promise<void> }>(port2);
    const waiting = caller.call('never');

    // Act
    caller.fail(new Error('The workflow thread ended (exit code 1)'));

    // Assess
    await expect(waiting).rejects.toThrow('exit code 1');
    await expect(caller.call('never')).rejects.toThrow('exit code 1');
  });

  it('serves a port handed over to it, as the DynamoDB thread serves the workflow thread', async () => {
    // Prepare
    const parent = channel();
    serveCalls(parent.port1, { compact: (table: string) => `compacted ${table}` }, () => undefined);
    const introduced = channel();

    // Act
    connectPort(parent.port2, introduced.port1);
    const caller = callerOf<{ compact(table: string): string }>(introduced.port2);

    // Assess
    expect(await caller.call('compact', 'identities')).toBe('compacted identities');
  });
});

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

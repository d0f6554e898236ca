import { type MessagePort, Worker } from 'node:worker_threads';
import { ensureTimeToIssueReceipt } from '#shared/workflow/receipt-time';
import type { LogFormat } from '../log-format.ts';
import type { SimulatorsWanted } from '../simulated-providers.ts';
import type { LocalWorkflowControl, WorkflowSchedule } from '../workflow-engine.ts';
import type { WorkflowSideControl, WorkflowSideOptions } from '../workflows.ts';
import { callerOf } from './rpc.ts';
import { threadEnded } from './thread-end.ts';

/** The erasure state machine or the completion callbacks' one. */
export type EngineName = 'erasure' | 'callbacks';

/** The calls the workflow thread answers (workflow-thread.ts). */
export type WorkflowThreadMethods = {
  startSimulators(wanted: SimulatorsWanted): Promise<{ referralRock?: string; firstPromoter?: string }>;
  compose(
    env: NodeJS.ProcessEnv,
    settings: { dataDir: string; apiUrl: string; options: Omit<WorkflowSideOptions, 'onWorkflowEvent'> },
  ): Promise<void>;
  start(requestId: string, schedule?: WorkflowSchedule): Promise<void>;
  stop(requestId: string): Promise<void>;
  ensureRunning(requestId: string): ReturnType<LocalWorkflowControl['ensureRunning']>;
  settled(engine: EngineName, requestId: string): Promise<void>;
  idle(engine: EngineName): Promise<void>;
  abortAll(engine: EngineName): Promise<void>;
  scheduleCallback(requestId: string): Promise<void>;
  issueReceipt(requestId: string): Promise<void>;
  sweep(): Promise<Record<string, number>>;
  resume(): Promise<string[]>;
  shutdown(options: { crash: boolean }): Promise<void>;
};

/**
 * Starts the workflow thread. Its first calls start the demo simulators (the main thread needs their addresses for the
 * configuration) and then compose the workflow side; `side` is then what the main thread's handlers use.
 * @param dynamoPort where it reaches dynalite's `compact` (the other end given to `startLocalDynamo`'s `serveOn`)
 */
export function startWorkflowThread(dynamoPort: MessagePort, log: { format: LogFormat }) {
  const worker = new Worker(new URL('./workflow-thread.ts', import.meta.url), {
    workerData: {
      dynamoPort,
      logFormat: log.format,
      colorize: { stdout: process.stdout.isTTY === true, stderr: process.stderr.isTTY === true },
    },
    transferList: [dynamoPort],
  });
  const thread = callerOf<WorkflowThreadMethods>(worker);
  const ended = threadEnded(worker, 'workflow', thread);
  const control = (engine: EngineName): LocalWorkflowControl => ({
    // An erasure's start is posted, not called: the intake answers without waiting for the workflow thread to take the
    // start, however busy that thread is. A start lost with the process is found by the sweeper, as a lost
    // StartExecution is in AWS.
    // A callback's start is called, not posted: the request ends only once its callbacks are written down (see
    // PendingCallbacks), so none is lost with the process.
    start: async (requestId, schedule) =>
      engine === 'erasure' ? thread.post('start', requestId, schedule) : thread.call('scheduleCallback', requestId),
    stop: (requestId) => thread.call('stop', requestId),
    ensureRunning: (requestId) => thread.call('ensureRunning', requestId),
    settled: (requestId) => thread.call('settled', engine, requestId),
    idle: () => thread.call('idle', engine),
    abortAll: () => thread.call('abortAll', engine),
  });
  return {
    startSimulators: (wanted: SimulatorsWanted) => thread.call('startSimulators', wanted),
    /** Builds the workflow side in the thread; `withCallbacks` when CALLBACK_URLS is set. */
    compose: async (
      env: NodeJS.ProcessEnv,
      settings: Parameters<WorkflowThreadMethods['compose']>[1],
      withCallbacks: boolean,
    ): Promise<WorkflowSideControl> => {
      await thread.call('compose', env, settings);
      const callbacks = withCallbacks ? control('callbacks') : undefined;
      return {
        workflow: control('erasure'),
        callbacks,
        callbackScheduler: callbacks && { schedule: (requestId) => callbacks.start(requestId) },
        receipts: {
          // The caller's budget is here, not in the thread: checked before the call, as in AWS (receipt-time.ts).
          issue: async (requestId) => {
            ensureTimeToIssueReceipt(requestId);
            await thread.call('issueReceipt', requestId);
          },
        },
        sweep: () => thread.call('sweep'),
        resume: () => thread.call('resume'),
        stop: async ({ crash }) => {
          await thread.call('shutdown', { crash });
          await ended.stop();
        },
      };
    },
    /** Ends the thread (a start that failed before `compose`, or after its stop). */
    stop: () => ended.stop(),
  };
}

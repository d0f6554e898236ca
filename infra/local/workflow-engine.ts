import { readFileSync } from 'node:fs';
import type { Logger } from '@aws-lambda-powertools/logger';
import { StateMachine } from 'aws-local-stepfunctions';

type JSONValue = Parameters<StateMachine['run']>[0];

import { DEFAULT_MAX_CONCURRENT_WORKFLOWS } from '#shared/config';
import { describeError } from '#shared/observability';
import { type EnsureRunningResult, MAX_WORKFLOW_RESUMES, type WorkflowEngine } from '#shared/ports/audit';
import { outsideInvocation } from '#shared/workflow/invocation-budget';
import type { TaskEvent } from '#shared/workflow/task-handler';
import { lambdaContext } from './lambda-context.ts';

/** The erasure workflow definition: deployed by the CDK stack, run here by aws-local-stepfunctions. */
export const ASL_PATH = new URL('../state-machines/erasure.asl.json', import.meta.url);
/** The completion callbacks' definition, likewise. */
export const CALLBACK_ASL_PATH = new URL('../state-machines/callback.asl.json', import.meta.url);
/** The receipt state machine's definition (Express, run synchronously by the functions that end requests), likewise. */
export const RECEIPT_ASL_PATH = new URL('../state-machines/receipt.asl.json', import.meta.url);

/** A Lambda handler as the stack deploys it: the same middy-wrapped function, invoked in-process. */
export type TaskFunction = (event: TaskEvent, context: ReturnType<typeof lambdaContext>) => Promise<unknown>;

export interface LocalWorkflowOptions {
  /** The state machine definition to run (default the erasure workflow, {@link ASL_PATH}). */
  aslPath?: URL;
  /** Functions by the substitution name the ASL uses for their ARN, e.g. `RequestTasksFunctionArn`. */
  functions: Record<string, { name: string; handler: TaskFunction }>;
  logger: Logger;
  /** Observer of every execution event, state inputs, outputs and errors included (tests scan them for personal data). */
  onEvent?: (requestId: string, event: unknown) => void;
  /** Milliseconds between retries, by state name; tests shorten them (AWS uses the ASL's intervals). */
  retryIntervalOverrides?: Record<string, number | number[]>;
  /**
   * Milliseconds a Wait state pauses, by state name, instead of its `Seconds(Path)`; tests shorten the batch poll wait,
   * whose seconds the configuration cannot bring under one.
   */
  waitTimeOverrides?: Record<string, number>;
  /** Each task invocation's time limit, as a Lambda function's timeout (default 60 s); tests shorten it. */
  taskTimeoutMs?: number;
  /** Executions run at once (default {@link DEFAULT_MAX_CONCURRENT_WORKFLOWS}); further starts wait in the queue. */
  maxConcurrent?: number;
  /**
   * The deadline of a request, read when a start arrives without one: the queue runs the earliest `dueAt` first. A
   * request it cannot place (unknown, or the read failed) is queued behind every placed one.
   */
  scheduleOf?: (requestId: string) => Promise<WorkflowSchedule | undefined>;
}

/** Where a request stands in the queue: earliest `dueAt` first, then earliest `receivedAt` (both ISO 8601 UTC). */
export interface WorkflowSchedule {
  dueAt: string;
  receivedAt: string;
  /** Where intake left the chain head: carried, with `receivedAt`, in the execution's input (see `loadRequest`). */
  lastEvent?: { seq: number; hash: string };
  /** Further fields of the execution's input (e.g. a resumed callback execution's `retriesEndAt`). */
  input?: Record<string, string>;
}

/**
 * What the local runtime's callers hold of a workflow engine, whether it runs in their thread or in the workflow
 * thread: the port the handlers use, and what tests and the runtime's stop wait on.
 */
export interface LocalWorkflowControl extends WorkflowEngine {
  /** Resolves when the request's execution (if any, queued or running) has ended. */
  settled(requestId: string): Promise<void>;
  /** Resolves when no execution is queued or running. */
  idle(): Promise<void>;
  /** Aborts everything, as a crash would; the next start resumes from the audit store. */
  abortAll(): Promise<void>;
}

interface RunningExecution {
  abort: () => void;
  done: Promise<void>;
}

interface QueuedExecution {
  /** Undefined while its schedule is being read. */
  schedule: WorkflowSchedule | undefined;
  /** Arrival order: the last tie-break, so equal deadlines run in the order they came. */
  seq: number;
  /** Resolves when the execution has run and ended, or left the queue without running. */
  done: Promise<void>;
  settle: () => void;
}

/** A Task state reached after its execution was stopped or aborted: nothing is invoked (see `#launch`). */
class ExecutionStoppedError extends Error {
  override name = 'ExecutionStoppedError';
  constructor(state: string) {
    super(`${state}: the execution was stopped`);
  }
}

/** Sorts after any ISO date: a request whose deadline could not be read waits behind every known one. */
const UNKNOWN = '\uffff';

/**
 * Runs the erasure state machine on this machine. As in AWS, an execution is named by its request id and a second start
 * of a queued or running one is a no-op; `stop` aborts it (or takes it out of the queue). Each Task state calls the
 * function its `Resource` substitution names.
 *
 * At most `maxConcurrent` executions run at once; the others wait in a queue ordered by deadline (`dueAt`, then
 * `receivedAt`, then arrival), so a backlog drains the requests due soonest first and never starves the intake of the
 * CPU and DynamoDB it shares with the workflows. (In AWS, reserved concurrency and the shared rate budget bound it.)
 */
export class LocalWorkflowEngine implements LocalWorkflowControl {
  readonly #machine: StateMachine;
  readonly #taskHandlers: Record<string, (input: JSONValue) => Promise<JSONValue>>;
  readonly #options: LocalWorkflowOptions;
  readonly #running = new Map<string, RunningExecution>();
  readonly #queued = new Map<string, QueuedExecution>();
  readonly #maxConcurrent: number;
  #arrivals = 0;
  /**
   * Runs of a request that failed in a row (none since one that did not fail): what Step Functions' redrive count is to
   * `ensureRunning` in AWS. Kept for the process's life: a restart resumes every unfinished request once more.
   */
  readonly #failedRuns = new Map<string, number>();
  /** Task invocations under way: an aborted execution does not stop the function it is waiting on, as in AWS. */
  readonly #inflight = new Set<Promise<unknown>>();

  constructor(options: LocalWorkflowOptions) {
    this.#options = options;
    this.#maxConcurrent = options.maxConcurrent ?? DEFAULT_MAX_CONCURRENT_WORKFLOWS;
    if (!Number.isSafeInteger(this.#maxConcurrent) || this.#maxConcurrent < 1) {
      throw new Error('maxConcurrent must be a positive integer');
    }
    const source = readFileSync(options.aslPath ?? ASL_PATH, 'utf8');
    const placeholders = new Set([...source.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1] as string));
    for (const name of placeholders) {
      if (!options.functions[name]) throw new Error(`No local function for ASL substitution ${name}`);
    }
    // Substituted as CDK does, with ARN-shaped values; the Tasks are then bound locally.
    const definition = localDefinition(options.aslPath ?? ASL_PATH);
    // Not validated here: asl-validator compiles its JSON schemas on every start (about 0.2 s on a quiet 2-core machine,
    // seconds on a busy one, and in every test that starts a runtime). The file is validated once, by
    // test/unit/asl-definition.test.ts, and by Step Functions when the stack deploys it.
    this.#machine = new StateMachine(definition, { validationOptions: { noValidate: true } });
    this.#taskHandlers = {};
    for (const [stateName, resource] of taskStates(definition)) {
      const fn = options.functions[resource.split(':').at(-1) as string] as { name: string; handler: TaskFunction };
      this.#taskHandlers[stateName] = async (input) => {
        const invocation = fn.handler(input as unknown as TaskEvent, lambdaContext(fn.name, options.taskTimeoutMs));
        this.#inflight.add(invocation);
        try {
          return (await invocation) as JSONValue;
        } finally {
          this.#inflight.delete(invocation);
        }
      };
    }
  }

  /**
   * Queues the request's execution (a no-op when it is queued or running) and starts what the bound allows.
   * @param schedule its deadline when the caller has it at hand; otherwise `scheduleOf` reads it
   */
  async start(requestId: string, schedule?: WorkflowSchedule): Promise<void> {
    // The queue's reads and the executions outlive the caller: an intake's invocation ends when it has answered, and
    // its budget's end would abort every DynamoDB call begun within it (as in AWS, where StartExecution hands over).
    return outsideInvocation(() => this.#enqueue(requestId, schedule));
  }

  #enqueue(requestId: string, schedule: WorkflowSchedule | undefined): void {
    if (this.#running.has(requestId) || this.#queued.has(requestId)) return;
    let settle = () => {};
    const done = new Promise<void>((resolve) => {
      settle = resolve;
    });
    // In the queue before the first await, so a concurrent second start sees it.
    const entry: QueuedExecution = { schedule, seq: this.#arrivals++, done, settle };
    this.#queued.set(requestId, entry);
    if (entry.schedule) {
      this.#pump();
      return;
    }
    // Not awaited: the intake answers without waiting for the deadline read; the entry is placed when it is known.
    void this.#scheduleOf(requestId).then((read) => {
      entry.schedule = read;
      this.#pump();
    });
  }

  /** Executions waiting for a free slot. */
  get queuedCount(): number {
    return this.#queued.size;
  }

  async #scheduleOf(requestId: string): Promise<WorkflowSchedule> {
    try {
      const schedule = await this.#options.scheduleOf?.(requestId);
      if (schedule) return schedule;
    } catch (error) {
      this.#options.logger.warn('Deadline of a queued request unknown; queued last', {
        requestId,
        ...describeError(error),
      });
    }
    return { dueAt: UNKNOWN, receivedAt: UNKNOWN };
  }

  /** Starts the earliest-due placed executions while slots are free. */
  #pump(): void {
    while (this.#running.size < this.#maxConcurrent) {
      let next: [string, QueuedExecution] | undefined;
      for (const candidate of this.#queued) {
        if (!candidate[1].schedule) continue;
        if (!next || before(candidate[1], next[1])) next = candidate;
      }
      if (!next) return;
      const [requestId, entry] = next;
      this.#queued.delete(requestId);
      this.#launch(requestId, entry);
    }
  }

  #launch(requestId: string, entry: QueuedExecution): void {
    const { lastEvent, receivedAt, input } = entry.schedule ?? {};
    // aws-local-stepfunctions ends a Retry's pause early on abort and then runs the Task again before it looks at the
    // abort: a stop (a cancel) or a crash during a retry backoff would invoke the function once more, which a stopped
    // execution in AWS never does. So an aborted execution's Task states invoke nothing.
    let aborted = false;
    const taskResourceLocalHandlers = Object.fromEntries(
      Object.entries(this.#taskHandlers).map(([state, handler]) => [
        state,
        (input: JSONValue) => (aborted ? Promise.reject(new ExecutionStoppedError(state)) : handler(input)),
      ]),
    );
    const execution = this.#machine.run(
      {
        ...input,
        requestId,
        ...(lastEvent && receivedAt ? { receivedAt, lastEvent: { ...lastEvent } } : {}),
      },
      {
        noThrowOnAbort: true,
        overrides: {
          taskResourceLocalHandlers,
          ...(this.#options.retryIntervalOverrides
            ? { retryIntervalOverrides: this.#options.retryIntervalOverrides }
            : {}),
          ...(this.#options.waitTimeOverrides ? { waitTimeOverrides: this.#options.waitTimeOverrides } : {}),
        },
      },
    );
    const observe = this.#observe(requestId, execution.eventLogs);
    const done = execution.result
      .then((output) => {
        // A stopped or aborted run (a cancel, a crash) ends here too: it neither failed nor succeeded.
        if (!aborted) this.#failedRuns.delete(requestId);
        this.#options.logger.info('Workflow ended', { requestId, output });
      })
      .catch((error: unknown) => {
        if (!aborted) this.#failedRuns.set(requestId, (this.#failedRuns.get(requestId) ?? 0) + 1);
        this.#options.logger.error('Workflow failed', { requestId, ...describeError(error) });
      })
      .then(() => observe)
      .finally(() => {
        this.#running.delete(requestId);
        entry.settle();
        this.#pump();
      });
    this.#running.set(requestId, {
      abort: () => {
        aborted = true;
        execution.abort();
      },
      done,
    });
  }

  /**
   * Locally an execution lives as long as the process: one not running here is started again, the whole workflow being
   * idempotent, as a redrive in AWS resumes it. As in AWS, a request whose runs failed {@link MAX_WORKFLOW_RESUMES}
   * times after its first (in a row, in this process) is not started again (`gave-up`): the sweeper reports it stuck
   * at each run, rather than restarting a workflow that always fails every few minutes for ever. `start` (a restart of
   * the service, an operator) still starts it.
   */
  async ensureRunning(requestId: string): Promise<EnsureRunningResult> {
    if (this.#running.has(requestId) || this.#queued.has(requestId)) return 'running';
    if ((this.#failedRuns.get(requestId) ?? 0) > MAX_WORKFLOW_RESUMES) return 'gave-up';
    await this.start(requestId);
    return 'started';
  }

  async stop(requestId: string): Promise<void> {
    const queued = this.#queued.get(requestId);
    if (queued) {
      this.#queued.delete(requestId);
      queued.settle();
      return;
    }
    const running = this.#running.get(requestId);
    if (!running) return;
    running.abort();
    await running.done;
  }

  /** Resolves when the request's execution (if any, queued or running) has ended. */
  async settled(requestId: string): Promise<void> {
    await (this.#queued.get(requestId)?.done ?? this.#running.get(requestId)?.done);
  }

  /** Resolves when no execution is queued or running. */
  async idle(): Promise<void> {
    while (this.#running.size + this.#queued.size > 0) {
      await Promise.all([...this.#running.values(), ...this.#queued.values()].map((r) => r.done));
    }
  }

  /**
   * Aborts everything, as a crash would: nothing more is recorded and nothing queued starts; the next start resumes from
   * the audit store. Task invocations already under way are let finish, so none is cut off halfway through a write.
   */
  async abortAll(): Promise<void> {
    // Queued executions never start: the next start resumes them from the store, like everything else unfinished.
    for (const queued of this.#queued.values()) queued.settle();
    this.#queued.clear();
    const running = [...this.#running.values()];
    for (const execution of running) execution.abort();
    await Promise.all(running.map((r) => r.done));
    await Promise.allSettled([...this.#inflight]);
  }

  /** Executions running now (at most `maxConcurrent`). */
  get runningCount(): number {
    return this.#running.size;
  }

  async #observe(requestId: string, events: AsyncGenerator<unknown>): Promise<void> {
    try {
      for await (const event of events) this.#options.onEvent?.(requestId, event);
    } catch (error) {
      this.#options.logger.warn('Workflow event log ended', describeError(error));
    }
  }
}

/** Whether `a` runs before `b`: earlier deadline, then earlier receipt, then earlier arrival in the queue. */
function before(a: QueuedExecution, b: QueuedExecution): boolean {
  const [x, y] = [a.schedule as WorkflowSchedule, b.schedule as WorkflowSchedule];
  if (x.dueAt !== y.dueAt) return x.dueAt < y.dueAt;
  if (x.receivedAt !== y.receivedAt) return x.receivedAt < y.receivedAt;
  return a.seq < b.seq;
}

type AslState = {
  Type: string;
  Resource?: string;
  Retry?: Array<{
    ErrorEquals?: string[];
    IntervalSeconds?: number;
    BackoffRate?: number;
    MaxAttempts?: number;
    MaxDelaySeconds?: number;
  }>;
  Branches?: Array<{ States: Record<string, AslState> }>;
};

/**
 * Retry pauses for every Task state: each retrier's first interval times `scale`, in milliseconds (a fixed pause: the
 * local engine takes an override as the whole wait). Shortens a test's or soak run's retries without editing the ASL.
 */
export function scaledRetryIntervals(scale: number, aslPath: URL = ASL_PATH): Record<string, number[]> {
  const found: Record<string, number[]> = {};
  const walk = (states: Record<string, AslState>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Task' && state.Retry) {
        found[name] = state.Retry.map((retrier) => Math.round((retrier.IntervalSeconds ?? 1) * 1000 * scale));
      }
      for (const branch of state.Branches ?? []) walk(branch.States);
    }
  };
  walk(JSON.parse(readFileSync(aslPath, 'utf8')).States);
  return found;
}

/**
 * How long the retries of `errorName` at the Task state `stateName` last in all, in milliseconds: the sum of their
 * pauses as Step Functions spaces them (`IntervalSeconds` times `BackoffRate` per attempt, at most `MaxDelaySeconds`;
 * the ASL's defaults 1, 2 and 3 attempts) or, with `scale` below 1, as {@link scaledRetryIntervals} shortens them.
 * @throws when the state has no retrier naming the error
 */
export function retrySpanMs(aslPath: URL, stateName: string, errorName: string, scale = 1): number {
  const state = localDefinition(aslPath).States[stateName];
  const retrier = state?.Retry?.find((r) => r.ErrorEquals?.includes(errorName));
  if (!retrier) throw new Error(`${stateName} has no retrier for ${errorName}`);
  const { IntervalSeconds: interval = 1, BackoffRate: rate = 2, MaxAttempts: attempts = 3 } = retrier;
  if (scale < 1) return attempts * Math.round(interval * 1000 * scale);
  let total = 0;
  for (let n = 0; n < attempts; n++) {
    total += Math.min(interval * rate ** n, retrier.MaxDelaySeconds ?? Number.POSITIVE_INFINITY) * 1000;
  }
  return total;
}

/**
 * A workflow definition (the erasure's by default; the callbacks' is the other) with each function ARN substituted by
 * an ARN-shaped value, as the engine runs it.
 */
export function localDefinition(aslPath: URL = ASL_PATH): ConstructorParameters<typeof StateMachine>[0] & {
  States: Record<string, AslState>;
} {
  const source = readFileSync(aslPath, 'utf8');
  return JSON.parse(
    source.replace(/\$\{(\w+)\}/g, (_, name: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`),
  );
}

/**
 * A short state machine run to its end for each call, as StartSyncExecution runs an Express one: each Task state calls
 * the function its Resource's ASL substitution names, in process.
 * @returns a runner that resolves to the execution's output
 * @throws (the runner) the failed execution's error, whose `cause` is what the task threw
 */
export function syncWorkflow(
  aslPath: URL,
  functions: Record<string, (event: TaskEvent) => Promise<unknown>>,
): (input: JSONValue) => Promise<JSONValue> {
  const definition = localDefinition(aslPath);
  // Validated once, by test/unit/asl-definition.test.ts, as the engine's definitions are.
  const machine = new StateMachine(definition, { validationOptions: { noValidate: true } });
  const taskResourceLocalHandlers = Object.fromEntries(
    taskStates(definition).map(([stateName, resource]) => {
      const fn = functions[resource.split(':').at(-1) as string];
      if (!fn) throw new Error(`No local function for ASL substitution in ${stateName}`);
      return [stateName, async (input: JSONValue) => (await fn(input as unknown as TaskEvent)) as JSONValue];
    }),
  );
  return (input) => machine.run(input, { overrides: { taskResourceLocalHandlers } }).result;
}

/** The names of every Task state in the workflow definition (tests shorten their retry intervals). */
export function workflowTaskStateNames(): string[] {
  return taskStates(JSON.parse(readFileSync(ASL_PATH, 'utf8'))).map(([name]) => name);
}

/** Every Task state of the definition, Parallel branches included, with its resource. */
function taskStates(definition: { States: Record<string, AslState> }): Array<[string, string]> {
  const found: Array<[string, string]> = [];
  const walk = (states: Record<string, AslState>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Task' && state.Resource) found.push([name, state.Resource]);
      for (const branch of state.Branches ?? []) walk(branch.States);
    }
  };
  walk(definition.States);
  return found;
}

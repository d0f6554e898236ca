import { readFileSync } from 'node:fs';
import type { Logger } from '@aws-lambda-powertools/logger';
import { StateMachine } from 'aws-local-stepfunctions';

type JSONValue = Parameters<StateMachine['run']>[0];

import { describeError } from '#shared/observability';
import type { EnsureRunningResult, WorkflowEngine } from '#shared/ports/audit';
import type { TaskEvent } from '#shared/workflow/task-handler';
import { lambdaContext } from './lambda-context.ts';

/** The one workflow definition: deployed by the CDK stack, run here by aws-local-stepfunctions. */
export const ASL_PATH = new URL('../state-machines/erasure.asl.json', import.meta.url);

/** A Lambda handler as the stack deploys it: the same middy-wrapped function, invoked in-process. */
export type TaskFunction = (event: TaskEvent, context: ReturnType<typeof lambdaContext>) => Promise<unknown>;

export interface LocalWorkflowOptions {
  /** Functions by the substitution name the ASL uses for their ARN, e.g. `RequestTasksFunctionArn`. */
  functions: Record<string, { name: string; handler: TaskFunction }>;
  logger: Logger;
  /** Observer of every execution event, state inputs, outputs and errors included (tests scan them for personal data). */
  onEvent?: (requestId: string, event: unknown) => void;
  /** Milliseconds between retries, by state name; tests shorten them (AWS uses the ASL's intervals). */
  retryIntervalOverrides?: Record<string, number | number[]>;
  /** Each task invocation's time limit, as a Lambda function's timeout (default 60 s); tests shorten it. */
  taskTimeoutMs?: number;
}

interface RunningExecution {
  abort: () => void;
  done: Promise<void>;
}

/**
 * Runs the erasure state machine on this machine. As in AWS, an execution is named by its request id and a second start
 * of a running one is a no-op; `stop` aborts it. Each Task state calls the function its `Resource` substitution names.
 */
export class LocalWorkflowEngine implements WorkflowEngine {
  readonly #machine: StateMachine;
  readonly #taskHandlers: Record<string, (input: JSONValue) => Promise<JSONValue>>;
  readonly #options: LocalWorkflowOptions;
  readonly #running = new Map<string, RunningExecution>();
  /** Task invocations under way: an aborted execution does not stop the function it is waiting on, as in AWS. */
  readonly #inflight = new Set<Promise<unknown>>();

  constructor(options: LocalWorkflowOptions) {
    this.#options = options;
    const source = readFileSync(ASL_PATH, 'utf8');
    const placeholders = new Set([...source.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1] as string));
    for (const name of placeholders) {
      if (!options.functions[name]) throw new Error(`No local function for ASL substitution ${name}`);
    }
    // Substituted as CDK does, with ARN-shaped values so the definition validates; the Tasks are then bound locally.
    const definition = JSON.parse(
      source.replace(/\$\{(\w+)\}/g, (_, name: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`),
    );
    this.#machine = new StateMachine(definition);
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

  async start(requestId: string): Promise<void> {
    if (this.#running.has(requestId)) return;
    const execution = this.#machine.run(
      { requestId },
      {
        noThrowOnAbort: true,
        overrides: {
          taskResourceLocalHandlers: this.#taskHandlers,
          ...(this.#options.retryIntervalOverrides
            ? { retryIntervalOverrides: this.#options.retryIntervalOverrides }
            : {}),
        },
      },
    );
    const observe = this.#observe(requestId, execution.eventLogs);
    const done = execution.result
      .then((output) => this.#options.logger.info('Workflow ended', { requestId, output }))
      .catch((error: unknown) => this.#options.logger.error('Workflow failed', { requestId, ...describeError(error) }))
      .then(() => observe)
      .finally(() => this.#running.delete(requestId));
    this.#running.set(requestId, { abort: execution.abort, done });
  }

  /** Locally an execution lives as long as the process: one not running here is simply started again. */
  async ensureRunning(requestId: string): Promise<EnsureRunningResult> {
    if (this.#running.has(requestId)) return 'running';
    await this.start(requestId);
    return 'started';
  }

  async stop(requestId: string): Promise<void> {
    const running = this.#running.get(requestId);
    if (!running) return;
    running.abort();
    await running.done;
  }

  /** Resolves when the request's execution (if any) has ended. */
  async settled(requestId: string): Promise<void> {
    await this.#running.get(requestId)?.done;
  }

  /** Resolves when no execution is running. */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.all([...this.#running.values()].map((r) => r.done));
  }

  /**
   * Aborts everything, as a crash would: nothing more is recorded, the next start resumes from the audit store. Task
   * invocations already under way are let finish, so none is cut off halfway through a write.
   */
  async abortAll(): Promise<void> {
    const running = [...this.#running.values()];
    for (const execution of running) execution.abort();
    await Promise.all(running.map((r) => r.done));
    await Promise.allSettled([...this.#inflight]);
  }

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

type AslState = { Type: string; Resource?: string; Branches?: Array<{ States: Record<string, AslState> }> };

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

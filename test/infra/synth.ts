import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CfnElement } from 'aws-cdk-lib';
import { App, type AppProps, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { PROJECT_ROOT } from '#infra/constructs/handler-function';
import { ErasureStack, type HandlerName, readSettings } from '#infra/erasure-stack';

/** The context `cdk synth` runs with: the defaults and feature flags in `cdk.json`. */
export const CDK_JSON_CONTEXT: Record<string, unknown> = JSON.parse(
  readFileSync(path.join(PROJECT_ROOT, 'cdk.json'), 'utf8'),
).context;

export interface Synthesized {
  app: App;
  stack: ErasureStack;
  template: Template;
}

/**
 * Builds the stack as `cdk synth` would (same context, plus `overrides`) into a temporary directory.
 * Bundling is skipped unless asked for: `aws:cdk:bundling-stacks` = [] makes every NodejsFunction skip esbuild, which
 * keeps these tests at a few seconds; the bundle test turns it back on. So is CloudFormation's built-in template
 * validation (`@aws-cdk/core:validateAgainstDefaultRules` in cdk.json), unless `validate` asks for it: it costs 3 s
 * of WebAssembly start-up per process and 1.3 s per template, and cloudformation-validation.test.ts runs it on the
 * stacks `cdk synth` builds.
 */
export function synthesize(
  overrides: Record<string, unknown> = {},
  options: { bundle?: boolean; validate?: boolean } = {},
): Synthesized {
  const app = testApp({
    builtinCloudFormationValidation: options.validate ?? false,
    context: {
      ...CDK_JSON_CONTEXT,
      ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }),
      ...overrides,
    },
  });
  const stack = new ErasureStack(app, 'Test', { settings: readSettings(app) });
  return { app, stack, template: Template.fromStack(stack) };
}

const outdirs: string[] = [];

/**
 * An App whose output goes to a directory of its own that {@link removeSynthesized} removes. An App made without an
 * `outdir` creates a `cdk.out*` directory in the system's temporary directory at once, which nothing removes: the
 * settings and cdk-nag tests left nine at every run.
 */
export function testApp(props: Omit<AppProps, 'outdir'> = {}): App {
  const outdir = mkdtempSync(path.join(tmpdir(), 'erasure-cdk-'));
  outdirs.push(outdir);
  return new App({ ...props, outdir });
}

let shared: Synthesized | undefined;

/**
 * The stack as `cdk synth` builds it by default, built once per test process and shared by every file that only reads
 * it (templates, roles, metadata, cdk-nag's `validateScope`, which only walks it): 0.3-0.9 s of CPU per synth, which
 * six infra files paid each. A test that changes the tree, builds it under a mock (cdk-nag's acknowledgments turned
 * off) or needs other settings calls {@link synthesize}. Its directory is removed at once: the template and the tree
 * are in memory, and a test process may end without an exit handler running (vitest stops its workers with a signal).
 */
export function sharedSynthesis(): Synthesized {
  if (!shared) {
    const outdirsBefore = outdirs.length;
    shared = synthesize();
    for (const dir of outdirs.splice(outdirsBefore)) rmSync(dir, { recursive: true, force: true });
  }
  return shared;
}

/** Removes what {@link synthesize} wrote; call it from `afterAll`. */
export function removeSynthesized(): void {
  for (const dir of outdirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** The stack's function of that name. @throws Error when the stack has none */
export function handlerOf(stack: ErasureStack, name: HandlerName) {
  const handler = stack.functions[name];
  if (!handler) throw new Error(`The stack has no ${name} function`);
  return handler;
}

/** The names of the functions the stack defines. */
export const handlerNames = (stack: ErasureStack) => Object.keys(stack.functions) as HandlerName[];

/** The CloudFormation logical id of a construct's default child (or of the element itself). */
export function logicalIdOf(construct: IConstruct): string {
  const element = (construct.node.defaultChild ?? construct) as CfnElement;
  return Stack.of(construct).resolve(element.logicalId);
}

export interface Statement {
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, unknown>;
}

/** Every identity-policy statement in the template (policies and roles' inline policies), with where it came from. */
export function identityStatements(template: Template): { policy: string; roles: string[]; statement: Statement }[] {
  const found: { policy: string; roles: string[]; statement: Statement }[] = [];
  for (const [id, policy] of Object.entries(template.findResources('AWS::IAM::Policy'))) {
    const roles = ((policy.Properties.Roles ?? []) as { Ref: string }[]).map((r) => r.Ref);
    for (const statement of policy.Properties.PolicyDocument.Statement as Statement[]) {
      found.push({ policy: id, roles, statement });
    }
  }
  for (const [id, role] of Object.entries(template.findResources('AWS::IAM::Role'))) {
    for (const inline of (role.Properties.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[]) {
      for (const statement of inline.PolicyDocument.Statement) found.push({ policy: id, roles: [id], statement });
    }
  }
  return found;
}

export const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** Whether an IAM action pattern (`dynamodb:Update*`, `*`) grants `action`. */
export function grants(pattern: string, action: string): boolean {
  const regex = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    'i',
  );
  return regex.test(action);
}

/** The statements granted to one role. */
export function statementsOf(template: Template, roleLogicalId: string): Statement[] {
  return identityStatements(template)
    .filter((s) => s.roles.includes(roleLogicalId))
    .map((s) => s.statement);
}

import cdkNag from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HandlerName } from '#infra/erasure-stack';
import {
  asArray,
  handlerNames,
  handlerOf,
  logicalIdOf,
  removeSynthesized,
  type Synthesized,
  sharedSynthesis,
  statementsOf,
  synthesize,
} from './synth.ts';

// The completion callbacks in the stack (issue 9, item 6): their own state machine, started only by the functions
// that end requests, a delivery function that cannot write a request, HTTPS targets only; cdk-nag clean.
const URLS = 'https://hooks.example.com/erasures,https://crm.example.org/gdpr';
let synth: Synthesized;
beforeAll(() => {
  synth = synthesize({ callbackUrls: URLS });
});
afterAll(removeSynthesized);

const ENDERS: HandlerName[] = ['request-tasks', 'firstpromoter-tasks', 'cancel-request', 'request-sweeper'];
const roleStatements = (name: HandlerName) =>
  statementsOf(synth.template, logicalIdOf(handlerOf(synth.stack, name).role));
const envOf = (name: HandlerName): Record<string, unknown> =>
  synth.template.findResources('AWS::Lambda::Function')[logicalIdOf(handlerOf(synth.stack, name).function)]?.Properties
    .Environment.Variables;

describe('completion callbacks in the stack', () => {
  it('lets only the functions that end requests start the callback state machine, and nothing else on it', () => {
    const callbacks = logicalIdOf(synth.stack.callbacks.stateMachine);
    for (const name of handlerNames(synth.stack)) {
      const starts = roleStatements(name).filter((s) => JSON.stringify(s.Resource).includes(`"${callbacks}"`));
      if (ENDERS.includes(name)) {
        expect(
          starts.flatMap((s) => asArray(s.Action)),
          name,
        ).toEqual(['states:StartExecution']);
        expect(envOf(name).CALLBACK_STATE_MACHINE_ARN, name).toEqual({ Ref: callbacks });
      } else {
        expect(starts, name).toEqual([]);
      }
    }
  });

  it('gives the delivery function the targets and the secret, and no write on a request', () => {
    const env = envOf('callback-delivery');
    const requestsTable = logicalIdOf(synth.stack.tables.requests);
    const onRequests = roleStatements('callback-delivery').filter((s) =>
      JSON.stringify(s.Resource).includes(`"${requestsTable}"`),
    );

    expect(env.CALLBACK_URLS).toBe(URLS);
    expect(env.CALLBACK_SECRET_SECRET_ARN).toEqual({ Ref: logicalIdOf(synth.stack.secrets.secrets.CALLBACK_SECRET) });
    // Read, as every secret, from the secrets extension.
    expect(env.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT).toBe('2773');
    expect(env.PUBLIC_BASE_URL).toBeDefined();
    expect(onRequests.flatMap((s) => asArray(s.Action))).toEqual(['dynamodb:GetItem']);
  });

  it('runs the callback state machine from callback.asl.json, invoking the delivery function alone', () => {
    const machine = synth.template.findResources('AWS::StepFunctions::StateMachine')[
      logicalIdOf(synth.stack.callbacks.stateMachine)
    ];

    expect(JSON.stringify(machine?.Properties.DefinitionSubstitutions)).toContain(
      logicalIdOf(handlerOf(synth.stack, 'callback-delivery').function),
    );
  });

  it('is cdk-nag clean', () => {
    const report = new cdkNag.AwsSolutionsChecks().validateScope(synth.app);

    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
  });

  it('refuses a callback target that is not HTTPS', () => {
    expect(() => synthesize({ callbackUrls: 'http://hooks.example.com/x' })).toThrow(/callbackUrls/);
    expect(() => synthesize({ callbackUrls: 'https://user:pw@hooks.example.com/x' })).toThrow(/callbackUrls/);
  });

  it('starts nothing and grants no secret without targets', () => {
    const plain = sharedSynthesis();
    const env =
      plain.template.findResources('AWS::Lambda::Function')[
        logicalIdOf(handlerOf(plain.stack, 'request-tasks').function)
      ]?.Properties.Environment.Variables;

    expect(env.CALLBACK_STATE_MACHINE_ARN).toBeUndefined();
  });
});

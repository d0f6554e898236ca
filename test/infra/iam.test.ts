import { randomInt } from 'node:crypto';
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_MUTATING_ACTIONS } from '#infra/constructs/audit-tables';
import { SECRET_PLACEHOLDER } from '#infra/constructs/erasure-secrets';
import { FUNCTION_SECRETS, type HandlerName } from '#infra/erasure-stack';
import { ConfigError, parseConfig, SECRET_VARIABLES } from '#shared/config';
import {
  asArray,
  grants,
  handlerNames,
  handlerOf,
  identityStatements,
  logicalIdOf,
  removeSynthesized,
  type Statement,
  type Synthesized,
  sharedSynthesis,
  statementsOf,
} from './synth.ts';

let synth: Synthesized;
beforeAll(() => {
  synth = sharedSynthesis();
});
afterAll(removeSynthesized);

const handler = (name: HandlerName) => handlerOf(synth.stack, name);
const roleOf = (name: HandlerName) => logicalIdOf(handler(name).role);
const actionsOf = (statements: Statement[], service: string) =>
  statements.flatMap((s) => asArray(s.Action)).filter((a) => a.startsWith(`${service}:`) || a === '*');
// What Secrets Manager's password generator counts as punctuation (GetRandomPassword, ExcludePunctuation).
const SECRETS_MANAGER_PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';
const mentions = (value: unknown, logicalId: string) => JSON.stringify(value).includes(`"${logicalId}"`);

describe('The audit events table is append-only', () => {
  it('grants no role UpdateItem, DeleteItem, BatchWriteItem or a pattern covering them on the events table', () => {
    const eventsTable = logicalIdOf(synth.stack.tables.events);
    const onEvents = identityStatements(synth.template).filter(
      ({ statement }) =>
        statement.Effect === 'Allow' && (mentions(statement.Resource, eventsTable) || statement.Resource === '*'),
    );

    expect(onEvents.length).toBeGreaterThan(0);
    for (const { policy, statement } of onEvents) {
      for (const pattern of asArray(statement.Action)) {
        for (const forbidden of EVENT_MUTATING_ACTIONS) {
          expect(grants(pattern, forbidden), `${policy} allows ${pattern} on the events table`).toBe(false);
        }
      }
    }
  });

  it('lets the functions that write events put, get and query them, nothing more', () => {
    const eventsTable = logicalIdOf(synth.stack.tables.events);
    const writers: HandlerName[] = [
      'intake',
      'sender-intake',
      'cancel-request',
      'request-tasks',
      'referralrock-tasks',
      'firstpromoter-tasks',
      'request-sweeper',
    ];
    for (const name of writers) {
      const actions = statementsOf(synth.template, roleOf(name))
        .filter((s) => mentions(s.Resource, eventsTable))
        .flatMap((s) => asArray(s.Action));

      expect(actions.sort(), name).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query']);
    }
  });

  it("lets through the events table's policy exactly the roles allowed to put events, so no writer is refused", () => {
    const eventsTable = logicalIdOf(synth.stack.tables.events);
    const statements: Statement[] =
      synth.template.findResources('AWS::DynamoDB::Table')[eventsTable]?.Properties.ResourcePolicy.PolicyDocument
        .Statement ?? [];
    const putDenial = statements.find((s) => s.Effect === 'Deny' && asArray(s.Action).includes('dynamodb:PutItem'));
    const exempted = asArray(
      (putDenial?.Condition?.ArnNotEquals as Record<string, unknown> | undefined)?.['aws:PrincipalArn'],
    ).map((arn) => (arn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0]);
    const putters = new Set(
      identityStatements(synth.template)
        .filter(
          ({ statement }) =>
            statement.Effect === 'Allow' &&
            mentions(statement.Resource, eventsTable) &&
            asArray(statement.Action).some((a) => grants(a, 'dynamodb:PutItem')),
        )
        .flatMap(({ roles }) => roles),
    );

    expect(putters.size).toBeGreaterThan(0);
    expect([...exempted].sort()).toEqual([...putters].sort());
  });

  it('lets the read-only API functions read events only', () => {
    const eventsTable = logicalIdOf(synth.stack.tables.events);
    for (const name of ['get-request', 'subject-lookup'] as const) {
      const actions = statementsOf(synth.template, roleOf(name))
        .filter((s) => mentions(s.Resource, eventsTable))
        .flatMap((s) => asArray(s.Action));

      expect(actions.sort(), name).toEqual(['dynamodb:GetItem', 'dynamodb:Query']);
    }
  });

  it('has a pattern matcher that would catch a wildcard grant', () => {
    expect(grants('dynamodb:*', 'dynamodb:UpdateItem')).toBe(true);
    expect(grants('dynamodb:Update*', 'dynamodb:UpdateItem')).toBe(true);
    expect(grants('*', 'dynamodb:DeleteItem')).toBe(true);
    expect(grants('dynamodb:PutItem', 'dynamodb:UpdateItem')).toBe(false);
  });
});

describe('Requests table permissions', () => {
  const requestsTable = () => logicalIdOf(synth.stack.tables.requests);
  const requestActionsOf = (name: HandlerName) =>
    statementsOf(synth.template, roleOf(name))
      .filter((s) => mentions(s.Resource, requestsTable()))
      .flatMap((s) => asArray(s.Action))
      .sort();

  it('lets the request sweeper scan requests, read one, update it when it retries a restore, and find the same person', () => {
    expect(requestActionsOf('request-sweeper')).toEqual([
      'dynamodb:GetItem',
      'dynamodb:Query',
      'dynamodb:Scan',
      'dynamodb:UpdateItem',
    ]);
  });

  it('lets only the request sweeper scan the requests table', () => {
    for (const name of handlerNames(synth.stack).filter((n) => n !== 'request-sweeper')) {
      expect(requestActionsOf(name), name).not.toContain('dynamodb:Scan');
    }
  });
});

describe('Rate budgets table permissions', () => {
  it('lets only the functions that call a provider read and update a budget, and nothing else on it', () => {
    const table = logicalIdOf(synth.stack.rateBudgets.table);
    const callers: HandlerName[] = ['referralrock-tasks', 'firstpromoter-tasks', 'cancel-request', 'request-sweeper'];

    for (const name of handlerNames(synth.stack)) {
      const actions = statementsOf(synth.template, roleOf(name))
        .filter((s) => mentions(s.Resource, table))
        .flatMap((s) => asArray(s.Action))
        .sort();
      expect(actions, name).toEqual(callers.includes(name) ? ['dynamodb:GetItem', 'dynamodb:UpdateItem'] : []);
    }
  });
});

describe('Step Functions permissions', () => {
  const machine = () => ({ Ref: logicalIdOf(synth.stack.workflow.stateMachine) });

  it('lets the intakes start executions of the erasure state machine and do nothing else with Step Functions', () => {
    for (const name of ['intake', 'sender-intake'] as const) {
      const statements = statementsOf(synth.template, roleOf(name)).filter((s) => actionsOf([s], 'states').length > 0);

      expect(statements, name).toEqual([
        expect.objectContaining({ Effect: 'Allow', Action: 'states:StartExecution', Resource: machine() }),
      ]);
    }
  });

  /** A function's Step Functions statements but its run of the receipt state machine (test/infra/transparency-log). */
  const erasureStatements = (name: HandlerName) =>
    statementsOf(synth.template, roleOf(name)).filter(
      (s) => actionsOf([s], 'states').length > 0 && s.Action !== 'states:StartSyncExecution',
    );

  it('lets cancel-request stop executions of the erasure state machine only', () => {
    const statements = erasureStatements('cancel-request');

    expect(statements).toHaveLength(1);
    expect(statements[0]?.Action).toBe('states:StopExecution');
    const arn = JSON.stringify(statements[0]?.Resource);
    expect(arn).toContain(':execution:');
    expect(arn).toContain(`"${logicalIdOf(synth.stack.workflow.stateMachine)}","Name"`);
  });

  it('lets the request sweeper start, inspect and redrive executions of the erasure state machine, nothing else', () => {
    const statements = erasureStatements('request-sweeper');

    expect(statements).toHaveLength(2);
    expect(statements).toContainEqual(
      expect.objectContaining({ Effect: 'Allow', Action: 'states:StartExecution', Resource: machine() }),
    );
    const onExecutions = statements.find((s) => s.Action !== 'states:StartExecution');
    expect(asArray(onExecutions?.Action ?? []).sort()).toEqual(['states:DescribeExecution', 'states:RedriveExecution']);
    expect(JSON.stringify(onExecutions?.Resource)).toContain(':execution:');
  });

  it('gives no other function any Step Functions permission', () => {
    const allowed = ['intake', 'sender-intake', 'cancel-request', 'request-sweeper'];
    for (const name of handlerNames(synth.stack).filter((n) => !allowed.includes(n))) {
      // request-tasks and firstpromoter-tasks end requests: they may run the receipt state machine, and nothing more.
      expect(actionsOf(erasureStatements(name), 'states'), name).toEqual([]);
    }
  });

  it('lets the state machine invoke exactly the three task functions', () => {
    const role = logicalIdOf(synth.stack.workflow.stateMachine.role);
    const lambdaStatements = statementsOf(synth.template, role).filter((s) => actionsOf([s], 'lambda').length > 0);
    const expected = (['request-tasks', 'referralrock-tasks', 'firstpromoter-tasks'] as const).map((name) => ({
      'Fn::GetAtt': [logicalIdOf(handler(name).function), 'Arn'],
    }));

    expect(lambdaStatements).toHaveLength(1);
    expect(lambdaStatements[0]?.Action).toBe('lambda:InvokeFunction');
    expect(asArray(lambdaStatements[0]?.Resource)).toEqual(expect.arrayContaining(expected));
    expect(asArray(lambdaStatements[0]?.Resource)).toHaveLength(expected.length);
  });
});

describe('Wildcards', () => {
  it("allows Resource '*' in function roles only for X-Ray, which has no resource-level permissions", () => {
    for (const name of handlerNames(synth.stack)) {
      const wildcard = statementsOf(synth.template, roleOf(name)).filter((s) => asArray(s.Resource).includes('*'));

      expect(
        wildcard.flatMap((s) => asArray(s.Action)).every((a) => a.startsWith('xray:')),
        name,
      ).toBe(true);
    }
  });

  it('queries the pseudonym indexes by name rather than index/*', () => {
    // subject-lookup finds a person's requests; the others find the other requests of a person, who share promoters.
    for (const name of ['subject-lookup', 'firstpromoter-tasks', 'cancel-request', 'request-sweeper'] as const) {
      const queries = statementsOf(synth.template, roleOf(name)).filter((s) =>
        asArray(s.Action).includes('dynamodb:Query'),
      );

      expect(JSON.stringify(queries), name).toContain('/index/by-email-pseudonym');
      expect(JSON.stringify(queries), name).toContain('/index/by-external-id-pseudonym');
      expect(JSON.stringify(queries), name).not.toContain('/index/*');
    }
  });
});

describe('Secrets', () => {
  const functions = () => synth.template.findResources('AWS::Lambda::Function');
  const secretIds = () => Object.keys(synth.template.findResources('AWS::SecretsManager::Secret'));

  it('creates one secret per secret variable, generated or a placeholder, never a real value in the template', () => {
    const secrets = Object.values(synth.template.findResources('AWS::SecretsManager::Secret'));

    expect(secrets).toHaveLength(SECRET_VARIABLES.length);
    for (const secret of secrets) {
      const { SecretString, GenerateSecretString } = secret.Properties;
      const generated = SecretString === undefined && GenerateSecretString !== undefined;
      expect(SecretString === SECRET_PLACEHOLDER || generated).toBe(true);
    }
    expect(JSON.stringify(synth.template.toJSON()).match(/whsec_[A-Za-z0-9+/=]{16,}|-----BEGIN/)).toBeNull();
  });

  it('generates IDENTITY_KEY and PSEUDONYM_KEY as values shared/config.ts decodes to 32 random bytes', () => {
    const base64Alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    for (const name of ['IDENTITY_KEY', 'PSEUDONYM_KEY'] as const) {
      const secret =
        synth.template.findResources('AWS::SecretsManager::Secret')[logicalIdOf(synth.stack.secrets.secrets[name])];
      const generator = secret?.Properties.GenerateSecretString;
      const candidates = `ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789${SECRETS_MANAGER_PUNCTUATION}`;
      const alphabet = [...candidates].filter((c) => !generator.ExcludeCharacters.includes(c));
      const sample = Array.from({ length: generator.PasswordLength }, () => alphabet[randomInt(alphabet.length)]).join(
        '',
      );

      expect(new Set(alphabet), name).toEqual(new Set(base64Alphabet));
      expect(generator).toMatchObject({ PasswordLength: 43, RequireEachIncludedType: false, IncludeSpace: false });
      expect(secret?.DeletionPolicy, name).toBe('Retain');
      const config = parseConfig({ IDENTITY_KEY: sample, PSEUDONYM_KEY: sample });
      expect(config.identityKey?.length).toBe(32);
      expect(config.pseudonymKey?.length).toBe(32);
    }
  });

  it('starts the webhook secret as a placeholder the intake refuses, so it fails closed until set', () => {
    expect(() => parseConfig({ WEBHOOK_SECRET: SECRET_PLACEHOLDER })).toThrow(ConfigError);
  });

  it('never puts a secret variable itself in an environment, only <NAME>_SECRET_ARN pointing at a stack secret', () => {
    for (const [id, fn] of Object.entries(functions())) {
      const variables: Record<string, unknown> = fn.Properties.Environment.Variables;
      for (const [key, value] of Object.entries(variables)) {
        const secret = SECRET_VARIABLES.find((name) => key === name || key.startsWith(`${name}_`));
        if (!secret) continue;
        expect(key, `${id} ${key}`).toBe(`${secret}_SECRET_ARN`);
        expect(secretIds(), `${id} ${key}`).toContain((value as { Ref?: string }).Ref);
      }
    }
  });

  it('lets the request sweeper read the FirstPromoter credentials, to retry restores, and no other secret', () => {
    expect([...FUNCTION_SECRETS['request-sweeper']].sort()).toEqual([
      'FIRSTPROMOTER_ACCOUNT_ID',
      'FIRSTPROMOTER_API_KEY',
    ]);
    const readable = statementsOf(synth.template, roleOf('request-sweeper'))
      .filter((s) => asArray(s.Action).includes('secretsmanager:GetSecretValue'))
      .flatMap((s) => asArray(s.Resource) as { Ref: string }[])
      .map((r) => r.Ref)
      .sort();
    const expected = (['FIRSTPROMOTER_API_KEY', 'FIRSTPROMOTER_ACCOUNT_ID'] as const)
      .map((n) => logicalIdOf(synth.stack.secrets.secrets[n]))
      .sort();

    expect(readable).toEqual(expected);
  });

  it('gives each function exactly the secrets it uses, in its environment and in its role', () => {
    for (const name of handlerNames(synth.stack)) {
      const names = FUNCTION_SECRETS[name];
      const fn = functions()[logicalIdOf(handler(name).function)];
      const variables: Record<string, { Ref: string }> = fn?.Properties.Environment.Variables;
      const expected = names.map((n) => logicalIdOf(synth.stack.secrets.secrets[n]));
      const inEnv = Object.entries(variables)
        .filter(([key]) => key.endsWith('_SECRET_ARN'))
        .map(([, value]) => value.Ref);
      const readable = statementsOf(synth.template, roleOf(name))
        .filter((s) => asArray(s.Action).includes('secretsmanager:GetSecretValue'))
        .flatMap((s) => asArray(s.Resource) as { Ref: string }[])
        .map((r) => r.Ref);

      expect(inEnv.sort(), name).toEqual([...expected].sort());
      expect(readable.sort(), name).toEqual([...expected].sort());
    }
  });

  it('gives the secrets extension to exactly the functions that read secrets, on its port, without its cache', () => {
    const mappings: Record<string, Record<string, Record<string, string>>> = synth.template.toJSON().Mappings ?? {};
    for (const name of handlerNames(synth.stack)) {
      const fn = functions()[logicalIdOf(handler(name).function)];
      const variables: Record<string, unknown> = fn?.Properties.Environment.Variables;
      const readsSecrets = FUNCTION_SECRETS[name].length > 0;
      // CDK writes the layer as a regional fact: a mapping from the region to the extension's arm64 layer there.
      const layers = (fn?.Properties.Layers ?? []).map((layer: { 'Fn::FindInMap'?: [string, unknown, string] }) => {
        const [map, , key] = layer['Fn::FindInMap'] ?? [];
        return map ? mappings[map]?.['eu-west-1']?.[key as string] : layer;
      });

      expect(layers, name).toEqual(
        readsSecrets ? [expect.stringMatching(/:layer:AWS-Parameters-and-Secrets-Lambda-Extension-Arm64:\d+$/)] : [],
      );
      expect(variables.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT, name).toBe(readsSecrets ? '2773' : undefined);
      if (readsSecrets) expect(variables.PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED, name).toBe('false');
    }
  });
});

describe('Least privilege from the template review (issue 8)', () => {
  const secretsReadBy = (name: HandlerName) =>
    statementsOf(synth.template, roleOf(name))
      .filter((s) => asArray(s.Action).includes('secretsmanager:GetSecretValue'))
      .flatMap((s) => asArray(s.Resource) as { Ref: string }[])
      .map((r) => r.Ref);
  const secretId = (name: (typeof SECRET_VARIABLES)[number]) => logicalIdOf(synth.stack.secrets.secrets[name]);

  it('lets cancel-request read the operator tokens, and not IDENTITY_KEY: it destroys the identity unread', () => {
    const variables: Record<string, unknown> =
      synth.template.findResources('AWS::Lambda::Function')[logicalIdOf(handler('cancel-request').function)]?.Properties
        .Environment.Variables;

    expect(FUNCTION_SECRETS['cancel-request']).not.toContain('IDENTITY_KEY');
    expect(Object.keys(variables)).not.toContain('IDENTITY_KEY_SECRET_ARN');
    expect(secretsReadBy('cancel-request')).not.toContain(secretId('IDENTITY_KEY'));
    expect(secretsReadBy('cancel-request')).toContain(secretId('OPERATOR_TOKENS'));
  });

  it('gives the operator tokens to the operator routes alone (cancel, extend)', () => {
    for (const name of handlerNames(synth.stack).filter((n) => n !== 'cancel-request' && n !== 'extend-request')) {
      expect(secretsReadBy(name), name).not.toContain(secretId('OPERATOR_TOKENS'));
    }
  });

  it('gives the read-only functions the data key to decrypt only, never to encrypt or generate data keys', () => {
    for (const name of ['get-request', 'subject-lookup', 'suppression-check'] as const) {
      const kmsActions = actionsOf(statementsOf(synth.template, roleOf(name)), 'kms');

      expect(kmsActions.length, name).toBeGreaterThan(0);
      expect(
        kmsActions.filter((a) => grants(a, 'kms:Encrypt') || grants(a, 'kms:GenerateDataKey')),
        name,
      ).toEqual([]);
    }
    expect(actionsOf(statementsOf(synth.template, roleOf('intake')), 'kms')).toContain('kms:GenerateDataKey');
  });

  it("limits the alarm topic key's CloudWatch grant to this account's alarms (aws:SourceAccount, aws:SourceArn)", () => {
    const topicKey = synth.template.findResources('AWS::KMS::Key', {
      Properties: { Description: Match.stringLikeRegexp('alarm topic') },
    });
    const statements: (Statement & { Principal?: unknown })[] =
      Object.values(topicKey)[0]?.Properties.KeyPolicy.Statement ?? [];
    const cloudWatch = statements.filter((s) => JSON.stringify(s.Principal ?? {}).includes('cloudwatch.amazonaws.com'));

    expect(cloudWatch).toHaveLength(1);
    expect(cloudWatch[0]?.Condition).toEqual({
      StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
      ArnLike: { 'aws:SourceArn': expect.objectContaining({ 'Fn::Join': expect.anything() }) },
    });
    expect(JSON.stringify(cloudWatch[0]?.Condition?.ArnLike)).toContain(':alarm:*');
  });
});

import { readFileSync } from 'node:fs';
import { Match } from 'aws-cdk-lib/assertions';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS_LOG_FIELDS } from '#infra/constructs/erasure-api';
import { ASL_FILE } from '#infra/constructs/erasure-workflow';
import {
  OVERDUE_METRIC_NAME,
  PENDING_CANCEL_RECEIPTS_METRIC_NAME,
  PENDING_RESTORES_METRIC_NAME,
  STUCK_REQUESTS_METRIC_NAME,
} from '#infra/constructs/operations';
import { DEFAULT_SETTINGS, type HandlerName, readSettings, retentionAtLeast } from '#infra/erasure-stack';
import { AUDIT_EVENTS_TABLE, projectionOf, RATE_BUDGETS_TABLE, REQUESTS_TABLE } from '#shared/adapters/dynamodb/tables';
import { ROUTES } from '#shared/routes';
import {
  asArray,
  CDK_JSON_CONTEXT,
  handlerNames,
  handlerOf,
  logicalIdOf,
  removeSynthesized,
  type Synthesized,
  sharedSynthesis,
  statementsOf,
  synthesize,
  testApp,
} from './synth.ts';

let synth: Synthesized;
beforeAll(() => {
  synth = sharedSynthesis();
});
afterAll(removeSynthesized);

let reservingNothing: Synthesized | undefined;
/**
 * The stack with providerConcurrency 0 and audit events kept past CloudWatch's longest retention, synthesized once for
 * the three tests that read it (0.3-0.4 s of CPU a synth); neither setting changes what the other one sets.
 */
const withoutReservedConcurrency = () => {
  reservingNothing ??= synthesize({ providerConcurrency: '0', auditRetentionDays: '5000' });
  return reservingNothing;
};

let customizing: Synthesized | undefined;
/**
 * The stack with every setting that the tests below read away from its default changed at once, synthesized once for
 * all of them instead of once in each (six synths, 0.3-0.4 s of CPU each). Each test reads its own setting's effect;
 * none of these settings changes what another one sets.
 */
const withCustomSettings = () => {
  customizing ??= synthesize({
    auditRetentionDays: '2000',
    firstPromoterBaseUrl: 'https://sandbox.firstpromoter.test/api',
    providerRetryWindowSeconds: '3600',
    providerConcurrency: '150',
    apiRateLimit: 3,
    apiBurstLimit: '7',
  });
  return customizing;
};

const API_FUNCTIONS: HandlerName[] = [
  'intake',
  'sender-intake',
  'get-request',
  'cancel-request',
  'extend-request',
  'list-requests',
  'subject-lookup',
  'suppression-check',
  'api-document',
];
const TASK_FUNCTIONS: HandlerName[] = ['request-tasks', 'referralrock-tasks', 'firstpromoter-tasks'];
// The functions whose last log line for a request carries `chainHead`, the anchor of its audit chain.
const CHAIN_ANCHORS: HandlerName[] = ['request-tasks', 'cancel-request', 'request-sweeper'];
const PROVIDER_TASKS: HandlerName[] = ['referralrock-tasks', 'firstpromoter-tasks'];
const FIRSTPROMOTER_CALLERS: HandlerName[] = ['firstpromoter-tasks', 'cancel-request', 'request-sweeper'];

const functionOf = (built: Synthesized, name: HandlerName) => {
  const fn = built.template.findResources('AWS::Lambda::Function')[logicalIdOf(handlerOf(built.stack, name).function)];
  if (!fn) throw new Error(`no function resource for ${name}`);
  return fn.Properties;
};
const envOf = (built: Synthesized, name: HandlerName): Record<string, unknown> =>
  functionOf(built, name).Environment.Variables;
const logGroupOf = (built: Synthesized, name: HandlerName) => {
  const group = built.template.findResources('AWS::Logs::LogGroup')[logicalIdOf(handlerOf(built.stack, name).logGroup)];
  if (!group) throw new Error(`no log group resource for ${name}`);
  // A log group that never expires has no properties at all.
  return group.Properties ?? {};
};

describe('Lambda functions', () => {
  it('builds every function with the house settings: Node.js 22 on arm64, active tracing, ESM entry', () => {
    const functions = synth.template.findResources('AWS::Lambda::Function');

    expect(Object.keys(functions)).toHaveLength(Object.keys(synth.stack.functions).length);
    for (const fn of Object.values(functions)) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        Handler: 'index.handler',
        Environment: {
          Variables: {
            POWERTOOLS_SERVICE_NAME: 'gdpr-erasure',
            POWERTOOLS_METRICS_NAMESPACE: DEFAULT_SETTINGS.metricsNamespace,
            POWERTOOLS_LOG_LEVEL: 'INFO',
            NODE_OPTIONS: '--enable-source-maps',
          },
        },
      });
    }
  });

  it('gives every function its own log group, kept for the configured retention unless it holds chain anchors', () => {
    const logGroups = synth.template.findResources('AWS::Logs::LogGroup');

    for (const [name, handler] of Object.entries(synth.stack.functions)) {
      const fn = synth.template.findResources('AWS::Lambda::Function', {
        Properties: { LoggingConfig: { LogGroup: { Ref: logicalIdOf(handler.logGroup) } } },
      });
      expect(Object.keys(fn)).toEqual([logicalIdOf(handler.function)]);
      if (CHAIN_ANCHORS.includes(name as HandlerName)) continue;
      expect(logGroups[logicalIdOf(handler.logGroup)]?.Properties.RetentionInDays, name).toBe(
        DEFAULT_SETTINGS.logRetentionDays,
      );
    }
  });

  it('keeps the logs of the functions that log chain anchors as long as audit events', () => {
    const longer = withCustomSettings(); // auditRetentionDays 2000
    const shorterThanLogs = synthesize({ auditRetentionDays: '30' });
    const beyondCloudWatch = withoutReservedConcurrency(); // auditRetentionDays 5000

    for (const name of CHAIN_ANCHORS) {
      expect(logGroupOf(synth, name).RetentionInDays, name).toBe(1096);
      expect(logGroupOf(longer, name).RetentionInDays, name).toBe(2192);
      expect(logGroupOf(shorterThanLogs, name).RetentionInDays, name).toBe(DEFAULT_SETTINGS.logRetentionDays);
      expect(logGroupOf(beyondCloudWatch, name), name).not.toHaveProperty('RetentionInDays');
    }
    expect(logGroupOf(longer, 'intake').RetentionInDays).toBe(DEFAULT_SETTINGS.logRetentionDays);
  });

  it('names the log groups that hold the chain anchors in the stack outputs, for auditors to find', () => {
    synth.template.hasOutput('RequestTasksLogGroupName', {
      Value: { Ref: logicalIdOf(handlerOf(synth.stack, 'request-tasks').logGroup) },
    });
    synth.template.hasOutput('CancelRequestLogGroupName', {
      Value: { Ref: logicalIdOf(handlerOf(synth.stack, 'cancel-request').logGroup) },
    });
  });

  it('keeps API functions inside API Gateway 30 s limit and gives provider tasks time to retry', () => {
    const timeoutOf = (name: HandlerName) => {
      const handler = handlerOf(synth.stack, name);
      return synth.template.findResources('AWS::Lambda::Function')[logicalIdOf(handler.function)]?.Properties.Timeout;
    };

    for (const name of API_FUNCTIONS) expect(timeoutOf(name)).toBeLessThan(30);
    expect(timeoutOf('referralrock-tasks')).toBeGreaterThanOrEqual(60);
    expect(timeoutOf('firstpromoter-tasks')).toBeGreaterThanOrEqual(60);
  });

  it('gives cancel-request and the sweeper two provider attempts of 5 s each, inside their timeouts, and no other', () => {
    const short: HandlerName[] = ['cancel-request', 'request-sweeper'];
    for (const name of short) {
      const fn = functionOf(synth, name);
      const { PROVIDER_MAX_ATTEMPTS, PROVIDER_TIMEOUT_MS } = fn.Environment.Variables;
      expect({ PROVIDER_MAX_ATTEMPTS, PROVIDER_TIMEOUT_MS }, name).toEqual({
        PROVIDER_MAX_ATTEMPTS: '2',
        PROVIDER_TIMEOUT_MS: '5000',
      });
      expect(Number(PROVIDER_MAX_ATTEMPTS) * Number(PROVIDER_TIMEOUT_MS)).toBeLessThan(fn.Timeout * 1000);
    }
    expect(functionOf(synth, 'cancel-request').Timeout).toBe(28);
    for (const name of handlerNames(synth.stack).filter((n) => !short.includes(n))) {
      expect(envOf(synth, name), name).not.toHaveProperty('PROVIDER_MAX_ATTEMPTS');
      expect(envOf(synth, name), name).not.toHaveProperty('PROVIDER_TIMEOUT_MS');
    }
  });

  it('points every function that calls FirstPromoter at the base URL from context, and only those', () => {
    const sandbox = withCustomSettings(); // firstPromoterBaseUrl https://sandbox.firstpromoter.test/api

    for (const name of handlerNames(sandbox.stack)) {
      const expected = FIRSTPROMOTER_CALLERS.includes(name) ? 'https://sandbox.firstpromoter.test/api' : undefined;
      expect(envOf(sandbox, name).FIRSTPROMOTER_BASE_URL, name).toBe(expected);
      expect(envOf(synth, name), name).not.toHaveProperty('FIRSTPROMOTER_BASE_URL');
    }
  });

  it('passes the provider retry window from context to the provider task functions, and only to those', () => {
    const hour = withCustomSettings(); // providerRetryWindowSeconds 3600

    for (const name of handlerNames(hour.stack)) {
      const expected = PROVIDER_TASKS.includes(name) ? '3600' : undefined;
      expect(envOf(hour, name).PROVIDER_RETRY_WINDOW_SECONDS, name).toBe(expected);
      expect(envOf(synth, name).PROVIDER_RETRY_WINDOW_SECONDS, name).toBe(
        PROVIDER_TASKS.includes(name) ? '21600' : undefined,
      );
    }
  });

  it('passes the audit retention from context to the functions as AUDIT_RETENTION_DAYS', () => {
    const custom = withCustomSettings(); // auditRetentionDays 2000

    custom.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ AUDIT_RETENTION_DAYS: '2000' }) },
    });
    expect(
      custom.template.findResources('AWS::Lambda::Function', {
        Properties: { Environment: { Variables: { AUDIT_RETENTION_DAYS: '1096' } } },
      }),
    ).toEqual({});
  });

  it('schedules the request sweeper hourly', () => {
    const overdue = handlerOf(synth.stack, 'request-sweeper');

    synth.template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 hour)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [logicalIdOf(overdue.function), 'Arn'] } })],
    });
  });
});

describe('Provider rate limits across instances', () => {
  const PROVIDER_CALLERS: HandlerName[] = ['referralrock-tasks', ...FIRSTPROMOTER_CALLERS];
  const rateLimitsOf = (built: Synthesized, name: HandlerName) => {
    const env = envOf(built, name);
    return {
      firstPromoter: env.FIRSTPROMOTER_RATE_LIMIT_PER_MINUTE,
      referralRock: env.REFERRALROCK_RATE_LIMIT_PER_MINUTE,
    };
  };

  it('reserves five instances of each provider task function by default, and of no other function', () => {
    for (const name of handlerNames(synth.stack)) {
      const expected = PROVIDER_TASKS.includes(name) ? 5 : undefined;
      expect(functionOf(synth, name).ReservedConcurrentExecutions, name).toBe(expected);
    }
  });

  it('points every function that calls a provider, and only those, at the shared rate budgets table', () => {
    const table = { Ref: logicalIdOf(synth.stack.rateBudgets.table) };

    for (const name of handlerNames(synth.stack)) {
      expect(envOf(synth, name).RATE_BUDGETS_TABLE, name).toEqual(PROVIDER_CALLERS.includes(name) ? table : undefined);
    }
  });

  it('gives no process a share of the ceilings, whatever the concurrency: the one shared budget holds them', () => {
    // withCustomSettings: providerConcurrency 150
    for (const built of [synth, withCustomSettings(), withoutReservedConcurrency()]) {
      for (const name of handlerNames(built.stack)) {
        expect(rateLimitsOf(built, name), name).toEqual({ firstPromoter: undefined, referralRock: undefined });
      }
    }
  });

  it('reserves nothing with providerConcurrency 0', () => {
    const none = withoutReservedConcurrency();

    for (const name of handlerNames(none.stack)) {
      expect(functionOf(none, name), name).not.toHaveProperty('ReservedConcurrentExecutions');
    }
  });

  it('keeps the rate budgets on demand, encrypted with the stack key, and without backups: nothing in them to keep', () => {
    const resource = synth.template.findResources('AWS::DynamoDB::Table')[logicalIdOf(synth.stack.rateBudgets.table)];
    const requests = synth.template.findResources('AWS::DynamoDB::Table')[logicalIdOf(synth.stack.tables.requests)];

    expect(resource?.Properties).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: RATE_BUDGETS_TABLE.partitionKey, KeyType: 'HASH' }],
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: false },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
    });
    expect(resource?.Properties.SSESpecification.KMSMasterKeyId).toEqual(
      requests?.Properties.SSESpecification.KMSMasterKeyId,
    );
    expect(resource?.Properties).not.toHaveProperty('TimeToLiveSpecification');
  });
});

describe('DynamoDB tables', () => {
  const tableProps = (construct: Parameters<typeof logicalIdOf>[0]) => {
    const resource = synth.template.findResources('AWS::DynamoDB::Table')[logicalIdOf(construct)];
    if (!resource) throw new Error('table not found');
    return resource;
  };

  it('retains both tables, protects them from deletion and recovers them to any point in time', () => {
    for (const table of [synth.stack.tables.requests, synth.stack.tables.events]) {
      const resource = tableProps(table);

      expect(resource.DeletionPolicy).toBe('Retain');
      expect(resource.UpdateReplacePolicy).toBe('Retain');
      expect(resource.Properties).toMatchObject({
        BillingMode: 'PAY_PER_REQUEST',
        DeletionProtectionEnabled: true,
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      });
    }
  });

  it('encrypts both tables with the rotating customer managed key', () => {
    const keys = synth.template.findResources('AWS::KMS::Key', { Properties: { EnableKeyRotation: true } });

    for (const table of [synth.stack.tables.requests, synth.stack.tables.events]) {
      const sse = tableProps(table).Properties.SSESpecification;
      expect(sse).toMatchObject({ SSEEnabled: true, SSEType: 'KMS' });
      expect(Object.keys(keys)).toContain(sse.KMSMasterKeyId['Fn::GetAtt'][0]);
      expect(synth.template.findResources('AWS::KMS::Key')[sse.KMSMasterKeyId['Fn::GetAtt'][0]]?.DeletionPolicy).toBe(
        'Retain',
      );
    }
  });

  it('keys the requests table, its pseudonym indexes and its status index as shared/adapters/dynamodb/tables.ts describes', () => {
    const props = tableProps(synth.stack.tables.requests).Properties;

    expect(props.KeySchema).toEqual([{ AttributeName: REQUESTS_TABLE.partitionKey, KeyType: 'HASH' }]);
    expect(props.GlobalSecondaryIndexes).toEqual(
      Object.values(REQUESTS_TABLE.indexes).map((index) => ({
        IndexName: index.name,
        KeySchema: [
          { AttributeName: index.partitionKey, KeyType: 'HASH' },
          { AttributeName: index.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...projectionOf(index.name)] },
      })),
    );
    // The list route reads a summary from the status index; the pseudonym indexes carry less.
    expect(projectionOf(REQUESTS_TABLE.indexes.byStatus.name)).toContain('actions');
    expect(projectionOf(REQUESTS_TABLE.indexes.byEmailPseudonym.name)).not.toContain('actions');
  });

  it('keys the audit events table by request id and numeric sequence', () => {
    const props = tableProps(synth.stack.tables.events).Properties;

    expect(props.KeySchema).toEqual([
      { AttributeName: AUDIT_EVENTS_TABLE.partitionKey, KeyType: 'HASH' },
      { AttributeName: AUDIT_EVENTS_TABLE.sortKey, KeyType: 'RANGE' },
    ]);
    expect(props.AttributeDefinitions).toContainEqual({ AttributeName: 'seq', AttributeType: 'N' });
  });

  it("denies updates and deletes of audit events to every principal in the table's own policy", () => {
    const statements = tableProps(synth.stack.tables.events).Properties.ResourcePolicy.PolicyDocument.Statement;

    expect(statements).toContainEqual(
      expect.objectContaining({
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: expect.arrayContaining(['dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem']),
      }),
    );
  });

  it('denies putting audit events to every principal except the roles of the functions that append them', () => {
    const writers: HandlerName[] = [
      'intake',
      'sender-intake',
      'cancel-request',
      'extend-request',
      'callback-delivery',
      'request-tasks',
      'referralrock-tasks',
      'firstpromoter-tasks',
      'request-sweeper',
    ];
    const roleArn = (name: HandlerName) => ({ 'Fn::GetAtt': [logicalIdOf(handlerOf(synth.stack, name).role), 'Arn'] });
    const statements: {
      Effect: string;
      Action: string | string[];
      Condition?: Record<string, Record<string, unknown>>;
    }[] = tableProps(synth.stack.tables.events).Properties.ResourcePolicy.PolicyDocument.Statement;
    const putDenials = statements.filter((s) => s.Effect === 'Deny' && asArray(s.Action).includes('dynamodb:PutItem'));

    synth.template.hasResourceProperties('AWS::DynamoDB::Table', {
      ResourcePolicy: {
        PolicyDocument: Match.objectLike({
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Principal: { AWS: '*' },
              Action: ['dynamodb:PartiQLInsert', 'dynamodb:PutItem'],
              Resource: '*',
              Condition: { ArnNotEquals: { 'aws:PrincipalArn': Match.anyValue() } },
            }),
          ]),
        }),
      },
    });
    expect(putDenials).toHaveLength(1);
    const allowed = asArray(putDenials[0]?.Condition?.ArnNotEquals?.['aws:PrincipalArn']);
    expect(allowed).toHaveLength(writers.length);
    expect(allowed).toEqual(expect.arrayContaining(writers.map(roleArn)));
  });
});

describe('HTTP API', () => {
  it('is an HTTP API with one route per entry of shared/routes.ts, each to its function with payload 2.0', () => {
    synth.template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    synth.template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
    synth.template.resourceCountIs('AWS::ApiGatewayV2::Route', ROUTES.length);

    const integrations = synth.template.findResources('AWS::ApiGatewayV2::Integration');
    for (const route of ROUTES) {
      const routes = Object.values(
        synth.template.findResources('AWS::ApiGatewayV2::Route', {
          Properties: { RouteKey: `${route.method} ${route.path}` },
        }),
      );
      expect(routes).toHaveLength(1);
      const integrationId = routes[0]?.Properties.Target['Fn::Join'][1][1].Ref;
      expect(integrations[integrationId]?.Properties).toMatchObject({
        IntegrationType: 'AWS_PROXY',
        PayloadFormatVersion: '2.0',
        IntegrationUri: { 'Fn::GetAtt': [logicalIdOf(handlerOf(synth.stack, route.function).function), 'Arn'] },
      });
    }
  });

  it('serves the console from a function that holds no table name and may do nothing but write its own logs', () => {
    const consoleRoutes = ROUTES.filter((route) => route.function === 'console');
    const role = logicalIdOf(handlerOf(synth.stack, 'console').role);

    expect(consoleRoutes.map((route) => `${route.method} ${route.path}`)).toEqual([
      'GET /console',
      'GET /console/{asset}',
    ]);
    expect(consoleRoutes.every((route) => route.auth === 'none')).toBe(true);
    expect(Object.keys(envOf(synth, 'console')).filter((name) => !name.startsWith('POWERTOOLS_'))).toEqual([
      'NODE_OPTIONS',
    ]);
    expect(
      statementsOf(synth.template, role)
        .flatMap((s) => asArray(s.Action))
        .sort(),
    ).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
  });

  it('throttles the stage with the rate and burst from context', () => {
    const custom = withCustomSettings(); // apiRateLimit 3, apiBurstLimit 7

    custom.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 3, ThrottlingBurstLimit: 7 },
    });
  });

  it('writes access logs without personal data to a log group with retention', () => {
    const stage = Object.values(synth.template.findResources('AWS::ApiGatewayV2::Stage'))[0];
    const format: string = stage?.Properties.AccessLogSettings.Format;
    const logGroupId = stage?.Properties.AccessLogSettings.DestinationArn['Fn::GetAtt'][0];

    expect(JSON.parse(format)).toEqual(ACCESS_LOG_FIELDS);
    expect(format).toContain('$context.requestId');
    for (const personal of ['sourceIp', 'userAgent', 'identity', 'path', 'querystring', 'header', 'body']) {
      expect(format.toLowerCase()).not.toContain(personal.toLowerCase());
    }
    expect(synth.template.findResources('AWS::Logs::LogGroup')[logGroupId]?.Properties.RetentionInDays).toBe(
      DEFAULT_SETTINGS.logRetentionDays,
    );
  });
});

describe('Step Functions workflow', () => {
  it('is a Standard state machine logging errors only, without execution data, with tracing', () => {
    synth.template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      LoggingConfiguration: Match.objectLike({ Level: 'ERROR', IncludeExecutionData: false }),
      TracingConfiguration: { Enabled: true },
    });
  });

  it('substitutes every placeholder of the ASL file, and each with the function it names', () => {
    const placeholders = new Set([...readFileSync(ASL_FILE, 'utf8').matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]));
    const machine = synth.template.findResources('AWS::StepFunctions::StateMachine')[
      logicalIdOf(synth.stack.workflow.stateMachine)
    ];
    const substitutions = machine?.Properties.DefinitionSubstitutions as Record<string, unknown>;

    expect(placeholders.size).toBeGreaterThan(0);
    expect(new Set(Object.keys(substitutions))).toEqual(placeholders);
    const expected: Record<string, HandlerName> = {
      RequestTasksFunctionArn: 'request-tasks',
      ReferralRockTasksFunctionArn: 'referralrock-tasks',
      FirstPromoterTasksFunctionArn: 'firstpromoter-tasks',
    };
    for (const [key, name] of Object.entries(expected)) {
      expect(substitutions[key]).toEqual({ 'Fn::GetAtt': [logicalIdOf(handlerOf(synth.stack, name).function), 'Arn'] });
    }
  });
});

describe('Alarms', () => {
  const topicRef = () => ({ Ref: logicalIdOf(synth.stack.operations.topic) });

  it('publishes every alarm to the alarm topic', () => {
    const alarms = Object.values(synth.template.findResources('AWS::CloudWatch::Alarm'));

    expect(alarms.length).toBeGreaterThan(0);
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toEqual([topicRef()]);
  });

  it('alarms on failed and timed-out executions, API 5xx, overdue and stuck requests, pending restores', () => {
    for (const metricName of ['ExecutionsFailed', 'ExecutionsTimedOut']) {
      synth.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/States',
        MetricName: metricName,
        Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: logicalIdOf(synth.stack.workflow.stateMachine) } }],
      });
    }
    synth.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/ApiGateway',
      MetricName: '5xx',
      Dimensions: [{ Name: 'ApiId', Value: { Ref: logicalIdOf(synth.stack.api.api) } }],
    });
    for (const metricName of [
      OVERDUE_METRIC_NAME,
      PENDING_RESTORES_METRIC_NAME,
      PENDING_CANCEL_RECEIPTS_METRIC_NAME,
      STUCK_REQUESTS_METRIC_NAME,
    ]) {
      synth.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: DEFAULT_SETTINGS.metricsNamespace,
        MetricName: metricName,
        Dimensions: [{ Name: 'service', Value: 'gdpr-erasure' }],
        Threshold: 1,
      });
    }
  });

  it("alarms on each function's errors", () => {
    for (const handler of Object.values(synth.stack.functions)) {
      synth.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalIdOf(handler.function) } }],
        AlarmActions: [topicRef()],
      });
    }
  });

  it('encrypts the alarm topic, lets CloudWatch use its key, and refuses publishing without TLS', () => {
    const topic = synth.template.findResources('AWS::SNS::Topic')[logicalIdOf(synth.stack.operations.topic)];
    const keyId = topic?.Properties.KmsMasterKeyId['Fn::GetAtt'][0];

    synth.template.hasResource('AWS::KMS::Key', {
      Properties: Match.objectLike({
        EnableKeyRotation: true,
        KeyPolicy: Match.objectLike({
          Statement: Match.arrayWith([
            Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Effect: 'Allow' }),
          ]),
        }),
      }),
    });
    expect(keyId).toBeDefined();
    synth.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: Match.objectLike({
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      }),
    });
  });
});

describe('Settings', () => {
  it('lists in cdk.json the same defaults the code falls back to', () => {
    const fromCdkJson = Object.fromEntries(Object.keys(DEFAULT_SETTINGS).map((key) => [key, CDK_JSON_CONTEXT[key]]));

    expect(fromCdkJson).toEqual(DEFAULT_SETTINGS);
    expect(readSettings(testApp())).toEqual(DEFAULT_SETTINGS);
  });

  it('reads numbers given as strings on the command line and refuses unusable values', () => {
    expect(readSettings(testApp({ context: { waitingPeriodSeconds: '86400' } })).waitingPeriodSeconds).toBe(86_400);
    expect(() => readSettings(testApp({ context: { logRetentionDays: 42 } }))).toThrow(/logRetentionDays/);
    expect(() => readSettings(testApp({ context: { apiRateLimit: 'fast' } }))).toThrow(/apiRateLimit/);
    // The functions' own limit (shared/config/sections.ts): past it every provider task would fail at cold start.
    expect(() => readSettings(testApp({ context: { providerRetryWindowSeconds: 30 * 86_400 + 1 } }))).toThrow(
      /providerRetryWindowSeconds/,
    );
  });

  it('maps a number of days to the shortest CloudWatch Logs retention that keeps logs at least that long', () => {
    expect(retentionAtLeast(1096)).toBe(RetentionDays.THREE_YEARS);
    expect(retentionAtLeast(1097)).toBe(RetentionDays.FIVE_YEARS);
    expect(retentionAtLeast(91)).toBe(RetentionDays.FOUR_MONTHS);
    expect(retentionAtLeast(1)).toBe(RetentionDays.ONE_DAY);
    expect(retentionAtLeast(3653)).toBe(RetentionDays.TEN_YEARS);
    expect(retentionAtLeast(3654)).toBe(RetentionDays.INFINITE);
  });

  it('refuses a provider concurrency that is not a non-negative integer', () => {
    expect(readSettings(testApp({ context: { providerConcurrency: '0' } })).providerConcurrency).toBe(0);
    expect(() => readSettings(testApp({ context: { providerConcurrency: '-1' } }))).toThrow(/providerConcurrency/);
    expect(() => readSettings(testApp({ context: { providerConcurrency: 'none' } }))).toThrow(/providerConcurrency/);
  });

  it('lists every API and task function', () => {
    expect(Object.keys(synth.stack.functions)).toEqual(expect.arrayContaining([...API_FUNCTIONS, ...TASK_FUNCTIONS]));
  });
});

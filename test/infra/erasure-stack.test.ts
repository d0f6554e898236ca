import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS_LOG_FIELDS } from '#infra/constructs/erasure-api';
import { ASL_FILE } from '#infra/constructs/erasure-workflow';
import { OVERDUE_METRIC_NAME } from '#infra/constructs/operations';
import { DEFAULT_SETTINGS, type HandlerName, readSettings } from '#infra/erasure-stack';
import { AUDIT_EVENTS_TABLE, REQUESTS_TABLE } from '#shared/adapters/dynamodb/tables';
import { ROUTES } from '#shared/routes';
import { CDK_JSON_CONTEXT, handlerOf, logicalIdOf, removeSynthesized, type Synthesized, synthesize } from './synth.ts';

let synth: Synthesized;
beforeAll(() => {
  synth = synthesize();
});
afterAll(removeSynthesized);

const API_FUNCTIONS: HandlerName[] = ['intake', 'get-request', 'cancel-request', 'subject-lookup'];
const TASK_FUNCTIONS: HandlerName[] = ['request-tasks', 'referralrock-tasks', 'firstpromoter-tasks'];

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

  it('gives every function its own log group, kept for the configured retention', () => {
    const logGroups = synth.template.findResources('AWS::Logs::LogGroup');

    for (const handler of Object.values(synth.stack.functions)) {
      const fn = synth.template.findResources('AWS::Lambda::Function', {
        Properties: { LoggingConfig: { LogGroup: { Ref: logicalIdOf(handler.logGroup) } } },
      });
      expect(Object.keys(fn)).toEqual([logicalIdOf(handler.function)]);
      expect(logGroups[logicalIdOf(handler.logGroup)]?.Properties.RetentionInDays).toBe(
        DEFAULT_SETTINGS.logRetentionDays,
      );
    }
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

  it('passes the audit retention from context to the functions as AUDIT_RETENTION_DAYS', () => {
    const custom = synthesize({ auditRetentionDays: '365' });

    custom.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ AUDIT_RETENTION_DAYS: '365' }) },
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

  it('keys the requests table and its pseudonym indexes as shared/adapters/dynamodb/tables.ts describes', () => {
    const props = tableProps(synth.stack.tables.requests).Properties;

    expect(props.KeySchema).toEqual([{ AttributeName: REQUESTS_TABLE.partitionKey, KeyType: 'HASH' }]);
    expect(props.GlobalSecondaryIndexes).toEqual(
      Object.values(REQUESTS_TABLE.indexes).map((index) => ({
        IndexName: index.name,
        KeySchema: [
          { AttributeName: index.partitionKey, KeyType: 'HASH' },
          { AttributeName: index.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...REQUESTS_TABLE.indexProjection] },
      })),
    );
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

  it('throttles the stage with the rate and burst from context', () => {
    const custom = synthesize({ apiRateLimit: 3, apiBurstLimit: '7' });

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
    const machine = Object.values(synth.template.findResources('AWS::StepFunctions::StateMachine'))[0];
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

  it('alarms on failed and timed-out workflow executions, API 5xx and overdue requests', () => {
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
    synth.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: DEFAULT_SETTINGS.metricsNamespace,
      MetricName: OVERDUE_METRIC_NAME,
      Dimensions: [{ Name: 'service', Value: 'gdpr-erasure' }],
      Threshold: 1,
    });
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
    expect(readSettings(new App())).toEqual(DEFAULT_SETTINGS);
  });

  it('reads numbers given as strings on the command line and refuses unusable values', () => {
    expect(readSettings(new App({ context: { waitingPeriodSeconds: '86400' } })).waitingPeriodSeconds).toBe(86_400);
    expect(() => readSettings(new App({ context: { logRetentionDays: 42 } }))).toThrow(/logRetentionDays/);
    expect(() => readSettings(new App({ context: { apiRateLimit: 'fast' } }))).toThrow(/apiRateLimit/);
  });

  it('lists every API and task function', () => {
    expect(Object.keys(synth.stack.functions)).toEqual(expect.arrayContaining([...API_FUNCTIONS, ...TASK_FUNCTIONS]));
  });
});

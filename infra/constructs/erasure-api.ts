import { Validations } from 'aws-cdk-lib';
import { AccessLogField, AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { type FunctionName, ROUTES } from '#shared/routes';
import type { HandlerFunction } from './handler-function.ts';

export interface ErasureApiProps {
  /** The function serving each name used in `ROUTES`. */
  readonly handlers: Readonly<Record<FunctionName, HandlerFunction>>;
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  readonly logRetention: logs.RetentionDays;
}

/**
 * The access log line: enough to trace a request to its Lambda logs and see how it went, and nothing a person could
 * be identified by. No path (`routeKey` names the route without the request id), query string, headers, body, user
 * agent, and no source IP: the callers are systems, but an IP can still be personal data and no question the
 * operator asks needs it (throttling and WAF work without it being logged).
 */
export const ACCESS_LOG_FIELDS = {
  requestId: AccessLogField.contextRequestId(),
  requestTime: AccessLogField.contextRequestTime(),
  routeKey: AccessLogField.contextRouteKey(),
  status: AccessLogField.contextStatus(),
  responseLength: AccessLogField.contextResponseLength(),
  responseLatency: AccessLogField.contextResponseLatency(),
  integrationStatus: AccessLogField.contextIntegrationStatus(),
  integrationLatency: AccessLogField.contextIntegrationLatency(),
  integrationError: AccessLogField.contextIntegrationErrorMessage(),
  error: AccessLogField.contextErrorMessage(),
} as const;

/**
 * The HTTP API (API Gateway v2, payload format 2.0), built from `shared/routes.ts` so it serves exactly what the local
 * server serves: one Lambda integration per function, a throttled `$default` stage and access logs.
 */
export class ErasureApi extends Construct {
  readonly api: apigwv2.HttpApi;
  readonly stage: apigwv2.HttpStage;
  readonly accessLogs: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ErasureApiProps) {
    super(scope, id);

    this.api = new apigwv2.HttpApi(this, 'HttpApi', {
      description: 'GDPR erasure requests: signed webhooks in, auditor queries out',
      // No CORS: the only browser client, the auditor's console, is served by this same API (same origin).
      createDefaultStage: false,
    });

    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: props.logRetention });
    this.stage = this.api.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle,
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });

    const integrations = new Map<FunctionName, HttpLambdaIntegration>();
    for (const route of ROUTES) {
      let integration = integrations.get(route.function);
      if (!integration) {
        integration = new HttpLambdaIntegration(
          `${route.function}-integration`,
          props.handlers[route.function].function,
          {
            payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
          },
        );
        integrations.set(route.function, integration);
      }
      this.api.addRoutes({ path: route.path, methods: [apigwv2.HttpMethod[route.method]], integration });
    }

    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'Every route authenticates in its handler, before any work: intake verifies a Standard Webhooks HMAC ' +
        'signature over the raw body (API Gateway has no authorizer that can), the auditor routes compare bearer ' +
        'tokens in constant time. A Lambda authorizer would repeat the same check at extra latency and cost. The ' +
        "console's two routes serve static files holding no data; the API calls the page makes carry the token.",
    });
  }

  /** The base URL callers use. */
  get url(): string {
    return this.api.apiEndpoint;
  }
}

import path from 'node:path';
import { Duration, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import {
  type BundlingOptions,
  type ICommandHooks,
  LogLevel,
  NodejsFunction,
  OutputFormat,
  SourceMapMode,
} from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { SECRET_VARIABLES } from '#shared/config/environment';
import { SERVICE_NAME } from '#shared/observability';

/** Repository root: function entries, package.json `imports` (`#shared/*`) and the lockfile are resolved from here. */
export const PROJECT_ROOT = path.resolve(import.meta.dirname, '..', '..');

/**
 * The esbuild options every function is bundled with (`test/infra/bundles.test.ts` bundles with them, and checks one
 * function against what CDK bundles through this construct).
 *
 * - ESM because every `index.ts` uses top-level await (config and secrets load once, at cold start).
 * - The banner gives the ESM bundle a `require`, which CommonJS dependencies bundled into it still call.
 * - `module` before `main` so dual packages contribute their ESM build, which esbuild can tree-shake.
 * - The AWS SDK is bundled rather than taken from the runtime: the deployed code then runs the SDK versions the
 *   lockfile pins and the tests ran, not whatever the runtime ships that month; minified and tree-shaken, it usually
 *   also loads faster than the runtime's full copy.
 * - `axios` is its fetch-only build (`dist/esm/axios.js`, the one its package gives browsers and React Native): the
 *   provider clients send through axios's fetch adapter over Node's own `fetch` (`createProviderHttp`), so its Node.js
 *   adapter, and the redirect, proxy and multipart libraries that adapter imports (follow-redirects, proxy-from-env,
 *   https-proxy-agent, form-data with mime-db, debug) are left out: 57 KiB of axios where its Node.js build came to
 *   100 KiB with them.
 *   Measured, and a request sent through the bundled build, in `test/infra/bundles.test.ts`.
 * - esbuild at `warning`: CDK documents that as its default but passes no `--log-level` unless one is set, and
 *   esbuild's command line then prints its `info` summary, five lines a function, about 90 lines a synth; warnings
 *   and errors still show.
 */
export const BUNDLING: BundlingOptions = {
  format: OutputFormat.ESM,
  target: 'node22',
  mainFields: ['module', 'main'],
  banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
  minify: true,
  sourceMap: true,
  sourceMapMode: SourceMapMode.EXTERNAL,
  // Stack traces map back to file and line without shipping the sources themselves.
  sourcesContent: false,
  bundleAwsSDK: true,
  externalModules: [],
  logLevel: LogLevel.WARNING,
  esbuildArgs: {
    // Relative to the project root, where esbuild runs.
    '--alias': 'axios=./node_modules/axios/dist/esm/axios.js',
  },
};

export interface HandlerFunctionProps {
  /** Folder under `functions/`; its `index.ts` is the entry. */
  readonly name: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  /** Variables beyond the Powertools ones every function gets. */
  readonly environment?: Record<string, string>;
  readonly logRetention: logs.RetentionDays;
  readonly logLevel: string;
  readonly metricsNamespace: string;
  /** Caps concurrent instances, e.g. to keep a provider's rate limit across containers. */
  readonly reservedConcurrentExecutions?: number;
  /** Ship `docs/openapi.yaml` as `openapi.json` beside the bundle (the api-document function reads it at cold start). */
  readonly withApiDocument?: boolean;
  /**
   * A folder under the function's own (e.g. `assets`) copied beside the bundle's `index.mjs`, for files the function
   * reads at start rather than imports (the console's page, script and style sheet).
   */
  readonly assetsFolder?: string;
  /**
   * The function reads Secrets Manager secrets (`<NAME>_SECRET_ARN`): it gets the AWS Parameters and Secrets Lambda
   * Extension, which `shared/aws/secrets.ts` reads them from over localhost.
   */
  readonly readsSecrets?: boolean;
}

/**
 * The AWS Parameters and Secrets Lambda Extension (an AWS-owned layer; CDK maps the version to the layer ARN of the
 * stack's region and architecture): it serves the function's secrets on localhost, so no bundle carries a Secrets
 * Manager client (13 KiB minified) and the cold start makes no TLS connection of its own to fetch them. Functions read
 * each secret once per cold start, so the cache is of no use here and is off: a read is always Secrets Manager's
 * current value. As many connections to Secrets Manager as there are secret variables, so a cold start's parallel
 * reads never queue; a read that hangs fails after 10 s rather than at the function's timeout.
 */
export const SECRETS_EXTENSION = lambda.ParamsAndSecretsLayerVersion.fromVersion(
  lambda.ParamsAndSecretsVersions.V1_0_103,
  {
    cacheEnabled: false,
    maxConnections: SECRET_VARIABLES.length,
    secretsManagerTimeout: Duration.seconds(10),
    logLevel: lambda.ParamsAndSecretsLogLevel.WARN,
  },
);

/**
 * Writes the OpenAPI document as JSON into the bundle's folder, with the Node.js that runs this CDK app (22, which runs
 * the TypeScript script as it is). The asset hash covers the bundle's output, so a changed document is deployed.
 */
const API_DOCUMENT_HOOKS: NonNullable<BundlingOptions['commandHooks']> = {
  beforeBundling: () => [],
  beforeInstall: () => [],
  afterBundling: (inputDir, outputDir) => [
    [process.execPath, path.join(inputDir, 'infra', 'api-document.ts'), path.join(outputDir, 'openapi.json')]
      .map((part) => `'${part.replaceAll("'", `'\\''`)}'`)
      .join(' '),
  ],
};

/**
 * The house Lambda function: Node.js 22 on arm64, an ESM bundle with source maps, active X-Ray tracing, its own log
 * group with a retention, Powertools configuration, and a role that starts with nothing but writing to that log group.
 * Everything else a function may do is granted explicitly by the stack.
 */
export class HandlerFunction extends Construct implements iam.IGrantable {
  readonly function: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly grantPrincipal: iam.IPrincipal;
  /** The bundle's entry, `functions/<name>/index.ts` (absolute). */
  readonly entry: string;
  /**
   * The options it is bundled with: {@link BUNDLING}, plus the hooks that put its files beside the bundle. Read by the
   * bundles test and `npm run bench`, which bundle every function with them in one esbuild run (`bench/bundles.ts`).
   */
  readonly bundling: BundlingOptions;

  constructor(scope: Construct, id: string, props: HandlerFunctionProps) {
    super(scope, id);

    this.logGroup = new logs.LogGroup(this, 'LogGroup', { retention: props.logRetention });

    // An explicit role instead of AWSLambdaBasicExecutionRole, which would allow creating log groups anywhere.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Runs the ${props.name} function of ${SERVICE_NAME}`,
    });
    this.grantPrincipal = this.role;
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );

    this.entry = path.join(PROJECT_ROOT, 'functions', props.name, 'index.ts');
    this.bundling = props.withApiDocument
      ? { ...BUNDLING, commandHooks: API_DOCUMENT_HOOKS }
      : props.assetsFolder
        ? { ...BUNDLING, commandHooks: copyBesideBundle(props.name, props.assetsFolder) }
        : BUNDLING;
    this.function = new NodejsFunction(this, 'Function', {
      entry: this.entry,
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      tracing: lambda.Tracing.ACTIVE,
      logGroup: this.logGroup,
      role: this.role,
      description: `${SERVICE_NAME}: ${props.name}`,
      ...(props.readsSecrets ? { paramsAndSecrets: SECRETS_EXTENSION } : {}),
      ...(props.reservedConcurrentExecutions === undefined
        ? {}
        : { reservedConcurrentExecutions: props.reservedConcurrentExecutions }),
      environment: {
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: props.metricsNamespace,
        POWERTOOLS_LOG_LEVEL: props.logLevel,
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: this.bundling,
    });

    const validations = Validations.of(this);
    validations.acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Pinned to Node.js 22, the version the project develops and tests on (engines ">=22", the node devDependency) ' +
        'and whose type stripping the local runtime relies on; a runtime upgrade is a deliberate, tested change.',
    });
    validations.acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Active tracing adds xray:PutTraceSegments and xray:PutTelemetryRecords, which support no resource-level ' +
        'permissions; nothing else in this role has a wildcard resource.',
    });
  }

  /** The function's ARN, for a state machine's definition or a policy. */
  get functionArn(): string {
    return this.function.functionArn;
  }
}

/** Copies `functions/<name>/<folder>` into the bundle's output folder after esbuild ran (local bundling: no Docker). */
function copyBesideBundle(name: string, folder: string): ICommandHooks {
  if (!/^[\w-]+$/.test(name) || !/^[\w-]+$/.test(folder)) throw new Error(`Unsafe assets folder ${name}/${folder}`);
  return {
    beforeBundling: () => [],
    beforeInstall: () => [],
    afterBundling: (inputDir, outputDir) => [
      `cp -R "${path.join(inputDir, 'functions', name, folder)}" "${path.join(outputDir, folder)}"`,
    ],
  };
}

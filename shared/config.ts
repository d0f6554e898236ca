import {
  type Environment,
  type EnvironmentReader,
  loadSections,
  parseSections,
  type SecretResolver,
} from '#shared/config/environment';
import { receiptSigningKey } from '#shared/config/receipt-key';
import {
  type AccessConfig,
  access,
  type CallbacksConfig,
  callbacks,
  type KeysConfig,
  keys,
  type LocalRuntimeConfig,
  localRuntime,
  type ProvidersConfig,
  providers,
  type ReceiptsConfig,
  receipts,
  type ServiceConfig,
  type StorageConfig,
  service,
  storage,
  type WorkflowConfig,
  webhooks,
  workflow,
} from '#shared/config/sections';
import { type SendersConfig, senders } from '#shared/config/senders';

/**
 * The whole configuration, every section of `#shared/config/sections` (plus the sender profiles and the local receipt
 * key): what the local runtime, which runs every function in one process, reads. The only reader of `process.env`
 * besides the sections themselves. Parsed once per process, frozen, typed; a bad value fails at start with the
 * variable's name. In AWS a secret variable `X` is not set itself: `X_SECRET_ARN` names a Secrets Manager secret whose
 * value is fetched at cold start, so no secret value sits in an environment variable or in the template. A Lambda
 * function reads only its own sections (`loadSections` in its `index.ts`), and bundles nothing of the others.
 */

export {
  ConfigError,
  loadSections,
  parseSections,
  type RequiredVariable,
  required,
  SECRET_VARIABLES,
  type SecretResolver,
  type SecretVariable,
} from '#shared/config/environment';
export { DEFAULT_MAX_CONCURRENT_WORKFLOWS, isAllowedCallbackUrl, MIN_TOKEN_LENGTH } from '#shared/config/sections';

export type Config = StorageConfig &
  AccessConfig &
  KeysConfig & { webhookSecrets: readonly string[] | undefined } & CallbacksConfig &
  WorkflowConfig &
  ServiceConfig &
  ProvidersConfig &
  LocalRuntimeConfig &
  SendersConfig & {
    receipts: ReceiptsConfig['receipts'] & {
      /** Local runtime: base64 PKCS#8 of the P-256 receipt key (RECEIPT_SIGNING_KEY). */
      signingKey: string | undefined;
    };
  };

const everySection = (env: EnvironmentReader): Config => ({
  ...webhooks(env),
  ...access(env),
  ...callbacks(env),
  ...keys(env),
  ...workflow(env),
  ...storage(env),
  ...providers(env),
  ...localRuntime(env),
  receipts: { signingKey: receiptSigningKey(env), ...receipts(env).receipts },
  ...service(env),
  ...senders(env),
});

/**
 * Parses the environment. Secret variables given as `<NAME>_SECRET_ARN` are fetched through `resolveSecret`.
 * @throws ConfigError naming each missing or malformed variable
 */
export const loadConfig = (env: Environment = process.env, resolveSecret?: SecretResolver): Promise<Readonly<Config>> =>
  loadSections(everySection, env, resolveSecret);

/** Synchronous variant for when every secret is already in `env` (local runtime, tests). */
export const parseConfig = (env: Environment): Readonly<Config> => parseSections(everySection, env);

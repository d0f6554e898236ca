import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ConfigError, type SecretResolver } from '#shared/config/environment';

let client: SecretsManagerClient | undefined;

/**
 * Reads a Secrets Manager secret, once per cold start (configuration is parsed once, so nothing here caches; a rotated
 * secret reaches new instances). The SDK client directly: Powertools' parameters utility would add its cache and
 * transforms (about 8 KiB to every bundle) for a value read once.
 * @throws ConfigError when the secret has no value
 */
export const resolveSecret: SecretResolver = async (secretId) => {
  client ??= new SecretsManagerClient({});
  const { SecretString, SecretBinary } = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
  if (typeof SecretString === 'string') return SecretString;
  if (SecretBinary instanceof Uint8Array) return Buffer.from(SecretBinary).toString('utf8');
  throw new ConfigError(`Secret ${secretId} has no value`);
};

import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { ConfigError, type SecretResolver } from '#shared/config';

/** Reads a Secrets Manager secret at cold start through Powertools (cached for 5 minutes across invocations). */
export const resolveSecret: SecretResolver = async (secretId) => {
  const value = await getSecret(secretId, { maxAge: 300 });
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  throw new ConfigError(`Secret ${secretId} has no value`);
};

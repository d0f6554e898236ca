import { request } from 'node:http';
import { ConfigError, type SecretResolver } from '#shared/config/environment';

/** The extension's default port (`PARAMETERS_SECRETS_EXTENSION_HTTP_PORT` overrides it, as the stack may set). */
const DEFAULT_PORT = 2773;

export interface ExtensionSecretsOptions {
  /** Where the extension listens on the loopback interface. */
  port: number;
  /** The function's session token (`AWS_SESSION_TOKEN`): the extension serves only callers that present it. */
  sessionToken: string | undefined;
  /**
   * How long to keep asking while the extension is still starting, in ms. Lambda starts the function's init once an
   * extension has registered, not once it is ready, so the first call of a cold start can find no listener yet, or an
   * answer of 400 "not ready to serve traffic".
   */
  readyWithinMs?: number;
  /** Pause between those attempts, in ms. */
  retryEveryMs?: number;
}

interface Answer {
  status: number;
  body: string;
}

/**
 * Reads Secrets Manager secrets through the AWS Parameters and Secrets Lambda Extension (a layer on every function that
 * reads secrets): `GET /secretsmanager/get?secretId=<arn>` on localhost with the session token in
 * `X-Aws-Parameters-Secrets-Token`, answered with GetSecretValue's JSON (AWS Secrets Manager User Guide, "Use AWS
 * Secrets Manager secrets in AWS Lambda functions"). No Secrets Manager client in any bundle, and no TLS handshake of
 * our own at cold start: the extension holds the connection to Secrets Manager. `node:http` rather than `fetch`, which
 * would load undici on every cold start for a loopback GET.
 * @throws ConfigError when a secret has no value; Error with the extension's status when it refuses the read, or
 *   when its answer is not GetSecretValue's JSON (without the answer's text)
 */
export function createExtensionSecretResolver(options: ExtensionSecretsOptions): SecretResolver {
  const readyWithinMs = options.readyWithinMs ?? 5_000;
  const retryEveryMs = options.retryEveryMs ?? 20;
  return async (secretId) => {
    const deadline = Date.now() + readyWithinMs;
    let answer = await get(options, secretId).catch((error: unknown) => error as Error);
    while (notReady(answer) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, retryEveryMs));
      answer = await get(options, secretId).catch((error: unknown) => error as Error);
    }
    if (answer instanceof Error) {
      throw new Error(`Secret ${secretId} could not be read: the secrets extension did not answer`, { cause: answer });
    }
    if (answer.status !== 200) {
      // The extension's error text is Secrets Manager's (access denied, not found): it never holds a secret's value.
      throw new Error(`Secret ${secretId} could not be read: HTTP ${answer.status} ${answer.body.slice(0, 300)}`);
    }
    const { SecretString, SecretBinary } = parseAnswer(secretId, answer.body);
    if (typeof SecretString === 'string') return SecretString;
    // In JSON, GetSecretValue's binary is base64.
    if (typeof SecretBinary === 'string') return Buffer.from(SecretBinary, 'base64').toString('utf8');
    throw new ConfigError(`Secret ${secretId} has no value`);
  };
}

/**
 * GetSecretValue's JSON from a 200 answer. Anything else throws without the text and without JSON.parse's error as its
 * cause: that error quotes the text, which may be the secret itself (a plain-text answer on the extension's port).
 */
function parseAnswer(secretId: string, body: string): { SecretString?: unknown; SecretBinary?: unknown } {
  try {
    return (JSON.parse(body) ?? {}) as { SecretString?: unknown; SecretBinary?: unknown };
  } catch {
    throw new Error(
      `Secret ${secretId} could not be read: the secrets extension's answer is not GetSecretValue's JSON`,
    );
  }
}

/** Still starting: nobody listening yet, or the extension's own "not ready" answer. */
const notReady = (answer: Answer | Error): boolean =>
  answer instanceof Error
    ? (answer as NodeJS.ErrnoException).code === 'ECONNREFUSED'
    : answer.status === 400 && /not ready/i.test(answer.body);

function get(options: ExtensionSecretsOptions, secretId: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: 'localhost',
        port: options.port,
        path: `/secretsmanager/get?secretId=${encodeURIComponent(secretId)}`,
        headers: { 'X-Aws-Parameters-Secrets-Token': options.sessionToken ?? '' },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('The secrets extension timed out')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * The functions' resolver: the extension on the port the runtime environment names, with the function's session
 * token. Secrets are read once per cold start (configuration is parsed once), all at once (`resolveSecrets`), so a
 * rotated secret reaches every new execution environment.
 */
export const resolveSecret: SecretResolver = (secretId) =>
  createExtensionSecretResolver({
    port: Number(process.env.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT ?? DEFAULT_PORT),
    sessionToken: process.env.AWS_SESSION_TOKEN,
  })(secretId);

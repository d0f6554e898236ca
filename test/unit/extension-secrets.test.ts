import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createExtensionSecretResolver } from '#shared/aws/secrets';
import { ConfigError, resolveSecrets } from '#shared/config/environment';

const TOKEN = 'session-token';
const SECRETS: Record<string, { SecretString?: string; SecretBinary?: string }> = {
  'arn:aws:secretsmanager:eu-west-1:1:secret:GdprErasure/AUDIT_TOKENS-a1': { SecretString: 'audit-tokens' },
  'arn:aws:secretsmanager:eu-west-1:1:secret:GdprErasure/PSEUDONYM_KEY-b2': {
    SecretBinary: Buffer.from('binary-key').toString('base64'),
  },
  'arn:aws:secretsmanager:eu-west-1:1:secret:GdprErasure/EMPTY-c3': {},
};

let server: Server | undefined;
afterEach(() => {
  server?.close();
  server = undefined;
});

/**
 * The extension as its documentation describes it: GetSecretValue's JSON for a known secret id to a caller with the
 * session token, 400 while it is starting (`notReadyFor` answers), 403 without the token, 400 for an unknown secret.
 */
async function extension(notReadyFor = 0): Promise<{ port: number; requests: IncomingMessage[] }> {
  const requests: IncomingMessage[] = [];
  let starting = notReadyFor;
  const listening = createServer((req, res) => {
    requests.push(req);
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (starting-- > 0) return res.writeHead(400).end('not ready to serve traffic, please wait');
    if (req.headers['x-aws-parameters-secrets-token'] !== TOKEN) return res.writeHead(403).end('forbidden');
    const secret = url.pathname === '/secretsmanager/get' && SECRETS[url.searchParams.get('secretId') ?? ''];
    if (!secret) return res.writeHead(400).end('ResourceNotFoundException: Secrets Manager can\u2019t find it');
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ Name: 'x', ...secret }));
  });
  server = listening;
  await new Promise<void>((resolve) => listening.listen(0, 'localhost', resolve));
  return { port: (listening.address() as AddressInfo).port, requests };
}

describe('Secrets through the Parameters and Secrets Lambda Extension', () => {
  it('reads every secret given as <NAME>_SECRET_ARN from the extension, all at once, with the session token', async () => {
    const { port, requests } = await extension();
    const resolve = createExtensionSecretResolver({ port, sessionToken: TOKEN });

    const env = await resolveSecrets(
      {
        AUDIT_TOKENS_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:1:secret:GdprErasure/AUDIT_TOKENS-a1',
        PSEUDONYM_KEY_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:1:secret:GdprErasure/PSEUDONYM_KEY-b2',
      },
      resolve,
    );

    expect(env.AUDIT_TOKENS).toBe('audit-tokens');
    expect(env.PSEUDONYM_KEY).toBe('binary-key');
    expect(requests).toHaveLength(2);
    expect(requests.every((r) => r.method === 'GET' && r.url?.startsWith('/secretsmanager/get?secretId=arn%3A'))).toBe(
      true,
    );
  });

  it('waits for an extension that is still starting, then reads', async () => {
    const { port, requests } = await extension(3);
    const resolve = createExtensionSecretResolver({ port, sessionToken: TOKEN, retryEveryMs: 1 });

    await expect(resolve('arn:aws:secretsmanager:eu-west-1:1:secret:GdprErasure/AUDIT_TOKENS-a1')).resolves.toBe(
      'audit-tokens',
    );
    expect(requests).toHaveLength(4);
  });

  it('waits for an extension not listening yet, and names the secret, never a value, when it never answers', async () => {
    // A port nobody listens on: the extension has registered but not started its server.
    const { port } = await extension();
    server?.close();
    const resolve = createExtensionSecretResolver({ port, sessionToken: TOKEN, readyWithinMs: 30, retryEveryMs: 5 });

    await expect(resolve('arn:aws:secretsmanager:eu-west-1:1:secret:GdprErasure/AUDIT_TOKENS-a1')).rejects.toThrow(
      'Secret arn:aws:secretsmanager:eu-west-1:1:secret:GdprErasure/AUDIT_TOKENS-a1 could not be read: the secrets extension did not answer',
    );
  });

  it('fails with the status when the extension refuses, and with a ConfigError for a secret without a value', async () => {
    const { port } = await extension();

    await expect(
      createExtensionSecretResolver({ port, sessionToken: 'wrong' })(
        'arn:aws:secretsmanager:eu-west-1:1:secret:GdprErasure/AUDIT_TOKENS-a1',
      ),
    ).rejects.toThrow(/could not be read: HTTP 403/);
    await expect(
      createExtensionSecretResolver({ port, sessionToken: TOKEN })('arn:aws:secretsmanager:eu-west-1:1:secret:nope'),
    ).rejects.toThrow(/could not be read: HTTP 400 ResourceNotFoundException/);
    await expect(
      createExtensionSecretResolver({ port, sessionToken: TOKEN })(
        'arn:aws:secretsmanager:eu-west-1:1:secret:GdprErasure/EMPTY-c3',
      ),
    ).rejects.toThrow(ConfigError);
  });

  it("never puts an answer's text in the error when it is not GetSecretValue's JSON (it may be the secret itself)", async () => {
    // Something answering 200 on the extension's port with the value as plain text (another server, a proxy, a
    // future format): JSON.parse's own error would quote it.
    const plain = createServer((_req, res) => res.writeHead(200).end('hunter2-plain-secret'));
    server = plain;
    await new Promise<void>((resolve) => plain.listen(0, 'localhost', resolve));
    const resolve = createExtensionSecretResolver({ port: (plain.address() as AddressInfo).port, sessionToken: TOKEN });

    const error = await resolve('arn:aws:secretsmanager:eu-west-1:1:secret:GdprErasure/AUDIT_TOKENS-a1').catch(
      (failure: unknown) => failure as Error,
    );

    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/AUDIT_TOKENS-a1 could not be read/);
    for (const part of [
      (error as Error).message,
      String((error as Error).cause ?? ''),
      String((error as Error).stack),
    ]) {
      expect(part).not.toContain('hunter2');
    }
  });
});

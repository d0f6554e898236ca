import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, loadSections, parseConfig, required, type SecretResolver } from '#shared/config';
import { access, keys, providers, storage } from '#shared/config/sections';
import { thrown } from '#test/support/thrown';

const key = (bytes: number) => randomBytes(bytes).toString('base64');
const whsec = (bytes: number) => `whsec_${key(bytes)}`;
const WEBHOOK_A = whsec(32);
const WEBHOOK_B = whsec(32);
const TOKEN_A = 'token-aaaaaaaaaaaaaaaaaaaaaaaaaaa1';
const TOKEN_B = 'token-bbbbbbbbbbbbbbbbbbbbbbbbbbb2';

/** A resolver that records the secret ids it was asked for and answers from a map. */
function recordingResolver(values: Record<string, string>) {
  const asked: string[] = [];
  const resolve: SecretResolver = async (secretId) => {
    asked.push(secretId);
    const value = values[secretId];
    if (value === undefined) throw new Error(`no secret ${secretId}`);
    return value;
  };
  return { asked, resolve };
}

describe('parseConfig', () => {
  it('applies the defaults to an empty environment', () => {
    const config = parseConfig({});

    expect(config).toEqual({
      webhookSecrets: undefined,
      auditTokens: undefined,
      operatorTokens: undefined,
      suppressionTokens: undefined,
      callbacks: { urls: [], secrets: undefined, stateMachineArn: undefined },
      pseudonymKey: undefined,
      identityKey: undefined,
      waitingPeriodSeconds: 0,
      batchPoll: { intervalSeconds: 5, maxIntervalSeconds: 300, timeoutSeconds: 6 * 3600 },
      auditRetentionDays: 3 * 365 + 1,
      referralRock: { baseUrl: undefined, publicKey: undefined, privateKey: undefined, rateLimitPerMinute: 120 },
      firstPromoter: { baseUrl: undefined, apiKey: undefined, accountId: undefined, rateLimitPerMinute: 400 },
      provider: { timeoutMs: 10_000, maxAttempts: 4, retryWindowSeconds: 21_600 },
      maxConcurrentWorkflows: 16,
      localWorkflowRetryScale: 1,
      tables: {
        requests: 'erasure-requests',
        auditEvents: 'erasure-audit-events',
        rateBudgets: 'erasure-rate-budgets',
        identities: 'erasure-identities',
        transparencyLog: 'erasure-transparency-log',
      },
      receipts: { signingKey: undefined, kmsKeyId: undefined, treeHeadsBucket: undefined, stateMachineArn: undefined },
      stateMachineArn: undefined,
      publicBaseUrl: undefined,
      dynamoDbEndpoint: undefined,
      deadlineTimeZone: 'UTC',
      senders: [],
    });
  });

  it('parses SENDERS with SENDER_SECRETS, and fails at start naming the sender and field of a bad one', () => {
    const config = parseConfig({
      SENDERS: '{"zendesk":{}}',
      SENDER_SECRETS: '{"zendesk":"zendesk-signing-secret-01"}',
    });
    expect(config.senders.map((s) => [s.name, s.profile])).toEqual([['zendesk', 'zendesk']]);

    const error = thrown(() =>
      parseConfig({
        SENDERS: '{"form":{"profile":"api-key"}}',
        SENDER_SECRETS: '{"form":"k-0123456789abcdef0123456789abcdef"}',
      }),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(
      'Invalid configuration: SENDERS.form.header: is required: the header that carries the API key',
    );
    expect((error as Error).message).not.toContain('k-0123');
  });

  it('coerces numeric variables from their string values', () => {
    const config = parseConfig({
      WAITING_PERIOD_SECONDS: '3600',
      BATCH_POLL_INTERVAL_SECONDS: '10',
      BATCH_POLL_MAX_INTERVAL_SECONDS: '600',
      BATCH_POLL_TIMEOUT_SECONDS: '7200',
      AUDIT_RETENTION_DAYS: '30',
      REFERRALROCK_RATE_LIMIT_PER_MINUTE: '60',
      FIRSTPROMOTER_RATE_LIMIT_PER_MINUTE: '200',
      PROVIDER_TIMEOUT_MS: '2500',
      PROVIDER_MAX_ATTEMPTS: '6',
      PROVIDER_RETRY_WINDOW_SECONDS: '900',
      MAX_CONCURRENT_WORKFLOWS: '3',
      LOCAL_WORKFLOW_RETRY_SCALE: '0.05',
    });

    expect(config.waitingPeriodSeconds).toBe(3600);
    expect(config.batchPoll).toEqual({ intervalSeconds: 10, maxIntervalSeconds: 600, timeoutSeconds: 7200 });
    expect(config.auditRetentionDays).toBe(30);
    expect(config.referralRock.rateLimitPerMinute).toBe(60);
    expect(config.firstPromoter.rateLimitPerMinute).toBe(200);
    expect(config.provider).toEqual({ timeoutMs: 2500, maxAttempts: 6, retryWindowSeconds: 900 });
    expect(config.maxConcurrentWorkflows).toBe(3);
    expect(config.localWorkflowRetryScale).toBe(0.05);
  });

  it('raises the maximum poll interval to the poll interval when it is set lower', () => {
    const config = parseConfig({ BATCH_POLL_INTERVAL_SECONDS: '60', BATCH_POLL_MAX_INTERVAL_SECONDS: '10' });

    expect(config.batchPoll.maxIntervalSeconds).toBe(60);
  });

  it.each([
    ['PROVIDER_TIMEOUT_MS', 'soon'],
    ['PROVIDER_TIMEOUT_MS', '50'],
    ['PROVIDER_MAX_ATTEMPTS', '0'],
    ['WAITING_PERIOD_SECONDS', '-1'],
    // Longer would let a request outlive its identity's TTL (62 days after the due date).
    ['WAITING_PERIOD_SECONDS', String(30 * 86_400 + 1)],
    ['BATCH_POLL_TIMEOUT_SECONDS', String(30 * 86_400 + 1)],
    ['PROVIDER_RETRY_WINDOW_SECONDS', '-1'],
    ['PROVIDER_RETRY_WINDOW_SECONDS', String(30 * 86_400 + 1)],
    ['AUDIT_RETENTION_DAYS', '1.5'],
  ])('rejects %s=%j with a ConfigError naming it', (name, value) => {
    const error = thrown(() => parseConfig({ [name]: value }));

    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(name);
  });

  it('says what a number out of bounds must be', () => {
    const error = thrown(() => parseConfig({ PROVIDER_TIMEOUT_MS: '50', WAITING_PERIOD_SECONDS: '-1' }));

    expect((error as Error).message).toContain('PROVIDER_TIMEOUT_MS: must be at least 100');
    expect((error as Error).message).toContain(`WAITING_PERIOD_SECONDS: must be 0 to ${30 * 86_400}`);
  });

  it('decodes base64 keys to bytes', () => {
    const identity = randomBytes(32);
    const pseudonym = randomBytes(48);

    const config = parseConfig({
      IDENTITY_KEY: identity.toString('base64'),
      PSEUDONYM_KEY: pseudonym.toString('base64'),
    });

    expect(config.identityKey?.equals(identity)).toBe(true);
    expect(config.pseudonymKey?.equals(pseudonym)).toBe(true);
  });

  it.each([16, 31, 33, 64])('rejects an IDENTITY_KEY of %i bytes, naming the variable without echoing it', (bytes) => {
    const value = key(bytes);

    const error = thrown(() => parseConfig({ IDENTITY_KEY: value }));

    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('IDENTITY_KEY');
    expect((error as Error).message).not.toContain(value);
    expect((error as Error).message).not.toContain(value.slice(0, 12));
  });

  it('rejects a PSEUDONYM_KEY shorter than 32 bytes but accepts a longer one', () => {
    const short = key(31);

    const error = thrown(() => parseConfig({ PSEUDONYM_KEY: short }));

    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('PSEUDONYM_KEY');
    expect((error as Error).message).not.toContain(short);
    expect(parseConfig({ PSEUDONYM_KEY: key(64) }).pseudonymKey).toHaveLength(64);
  });

  it('splits comma-separated lists and trims their items, dropping empty ones', () => {
    const [first, second] = [whsec(24), whsec(64)];
    const config = parseConfig({
      WEBHOOK_SECRET: ` ${first} , ${second},,`,
      AUDIT_TOKENS: `${TOKEN_A},  ${TOKEN_B} `,
    });

    expect(config.webhookSecrets).toEqual([first, second]);
    expect(config.auditTokens).toEqual([TOKEN_A, TOKEN_B]);
  });

  it.each([
    ['a 1-byte key', 'whsec_AA=='],
    ['a 23-byte key', whsec(23)],
    ['a 65-byte key', whsec(65)],
    ['a key that is not base64', `whsec_${'!'.repeat(40)}`],
  ])('rejects a WEBHOOK_SECRET with %s (Standard Webhooks: 24 to 64 bytes), naming the variable only', (_, secret) => {
    const error = thrown(() => parseConfig({ WEBHOOK_SECRET: `${whsec(32)},${secret}` }));

    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('WEBHOOK_SECRET');
    expect((error as Error).message).not.toContain(secret.slice(6));
  });

  it.each(['AUDIT_TOKENS', 'OPERATOR_TOKENS', 'SUPPRESSION_TOKENS'])(
    'rejects %s with a token of 16 (or 31) characters',
    (name) => {
      for (const weak of ['p'.repeat(16), 'p'.repeat(31)]) {
        const error = thrown(() => parseConfig({ [name]: `${TOKEN_A},${weak}` }));

        expect(error).toBeInstanceOf(ConfigError);
        expect((error as Error).message).toContain(name);
        expect((error as Error).message).not.toContain(weak);
      }
      expect(parseConfig({ [name]: 'p'.repeat(32) })).toBeTruthy();
    },
  );

  it('keeps operator tokens apart from audit tokens, refusing a token in both lists', () => {
    const config = parseConfig({ AUDIT_TOKENS: TOKEN_A, OPERATOR_TOKENS: TOKEN_B });
    const shared = thrown(() => parseConfig({ AUDIT_TOKENS: TOKEN_A, OPERATOR_TOKENS: `${TOKEN_B},${TOKEN_A}` }));

    expect(config.operatorTokens).toEqual([TOKEN_B]);
    expect(shared).toBeInstanceOf(ConfigError);
    expect((shared as Error).message).toContain('OPERATOR_TOKENS');
    expect((shared as Error).message).not.toContain(TOKEN_A);
  });

  it('keeps suppression tokens apart from audit and operator tokens', () => {
    const TOKEN_C = 'c'.repeat(40);
    expect(parseConfig({ AUDIT_TOKENS: TOKEN_A, SUPPRESSION_TOKENS: TOKEN_C }).suppressionTokens).toEqual([TOKEN_C]);
    for (const env of [
      { AUDIT_TOKENS: TOKEN_A, SUPPRESSION_TOKENS: `${TOKEN_C},${TOKEN_A}` },
      { OPERATOR_TOKENS: TOKEN_B, SUPPRESSION_TOKENS: TOKEN_B },
    ]) {
      const error = thrown(() => parseConfig(env));
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toContain('SUPPRESSION_TOKENS');
      expect((error as Error).message).not.toContain(TOKEN_A);
    }
  });

  it('takes CALLBACK_URLS over HTTPS, or plain HTTP to loopback outside AWS only, and requires CALLBACK_SECRET', () => {
    const secret = whsec(32);
    const local = parseConfig({
      CALLBACK_URLS: 'https://hooks.example.com/erasures, http://127.0.0.1:9000/cb',
      CALLBACK_SECRET: secret,
    });
    expect(local.callbacks).toEqual({
      urls: ['https://hooks.example.com/erasures', 'http://127.0.0.1:9000/cb'],
      secrets: [secret],
      stateMachineArn: undefined,
    });

    for (const env of [
      { CALLBACK_URLS: 'http://hooks.example.com/erasures', CALLBACK_SECRET: secret },
      { CALLBACK_URLS: 'http://127.0.0.1:9000/cb', CALLBACK_SECRET: secret, AWS_LAMBDA_FUNCTION_NAME: 'callback' },
      { CALLBACK_URLS: 'https://user:pass@hooks.example.com/', CALLBACK_SECRET: secret },
      { CALLBACK_URLS: 'ftp://hooks.example.com/', CALLBACK_SECRET: secret },
    ]) {
      const error = thrown(() => parseConfig(env));
      expect(error, env.CALLBACK_URLS).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toContain('CALLBACK_URLS');
    }
    expect((thrown(() => parseConfig({ CALLBACK_URLS: 'https://hooks.example.com/' })) as Error).message).toContain(
      'CALLBACK_SECRET',
    );
  });

  it('reads DEADLINE_TIME_ZONE as an IANA name and refuses anything else at start', () => {
    expect(parseConfig({ DEADLINE_TIME_ZONE: 'Europe/London' }).deadlineTimeZone).toBe('Europe/London');
    const error = thrown(() => parseConfig({ DEADLINE_TIME_ZONE: 'London' }));

    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('DEADLINE_TIME_ZONE');
  });

  it('rejects a WEBHOOK_SECRET entry without the whsec_ prefix, without echoing it', () => {
    const error = thrown(() => parseConfig({ WEBHOOK_SECRET: 'whsec_good,plain-secret-value' }));

    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('WEBHOOK_SECRET');
    expect((error as Error).message).not.toContain('plain-secret-value');
  });

  it('rejects an audit token shorter than 32 characters and a list with no items', () => {
    const short = thrown(() => parseConfig({ AUDIT_TOKENS: `${TOKEN_A},short-token` }));
    const empty = thrown(() => parseConfig({ AUDIT_TOKENS: ' , ' }));

    expect(short).toBeInstanceOf(ConfigError);
    expect((short as Error).message).toContain('AUDIT_TOKENS');
    expect((short as Error).message).not.toContain('short-token');
    expect(empty).toBeInstanceOf(ConfigError);
    expect((empty as Error).message).toContain('AUDIT_TOKENS');
  });

  it('rejects a non-http base URL without echoing it', () => {
    const error = thrown(() => parseConfig({ REFERRALROCK_BASE_URL: 'ftp://user:hunter2@example.com' }));

    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('REFERRALROCK_BASE_URL');
    expect((error as Error).message).not.toContain('hunter2');
  });

  it('names every bad variable in one error', () => {
    const error = thrown(() =>
      parseConfig({ IDENTITY_KEY: key(8), WEBHOOK_SECRET: 'nope', PROVIDER_MAX_ATTEMPTS: 'x' }),
    );

    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('IDENTITY_KEY');
    expect((error as Error).message).toContain('WEBHOOK_SECRET');
    expect((error as Error).message).toContain('PROVIDER_MAX_ATTEMPTS');
  });

  it('returns a frozen object', () => {
    const config = parseConfig({});

    expect(Object.isFrozen(config)).toBe(true);
    expect(() => {
      (config as { waitingPeriodSeconds: number }).waitingPeriodSeconds = 99;
    }).toThrow(TypeError);
  });
});

describe('loadConfig', () => {
  it('resolves <NAME>_SECRET_ARN variables through the resolver', async () => {
    const identity = randomBytes(32);
    const { asked, resolve } = recordingResolver({
      'arn:aws:secretsmanager:eu-west-1:1:secret:webhook': `${WEBHOOK_A},${WEBHOOK_B}`,
      'arn:aws:secretsmanager:eu-west-1:1:secret:identity': identity.toString('base64'),
    });

    const config = await loadConfig(
      {
        WEBHOOK_SECRET_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:1:secret:webhook',
        IDENTITY_KEY_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:1:secret:identity',
      },
      resolve,
    );

    expect(asked).toEqual([
      'arn:aws:secretsmanager:eu-west-1:1:secret:webhook',
      'arn:aws:secretsmanager:eu-west-1:1:secret:identity',
    ]);
    expect(config.webhookSecrets).toEqual([WEBHOOK_A, WEBHOOK_B]);
    expect(config.identityKey?.equals(identity)).toBe(true);
  });

  it('does not call the resolver for a variable that is set directly', async () => {
    const { asked, resolve } = recordingResolver({ 'arn:identity': key(32) });
    const direct = randomBytes(32);

    const config = await loadConfig(
      { IDENTITY_KEY: direct.toString('base64'), IDENTITY_KEY_SECRET_ARN: 'arn:identity' },
      resolve,
    );

    expect(asked).toEqual([]);
    expect(config.identityKey?.equals(direct)).toBe(true);
  });

  it('validates a resolved secret like a direct one', async () => {
    const { resolve } = recordingResolver({ 'arn:identity': key(16) });

    const error = await loadConfig({ IDENTITY_KEY_SECRET_ARN: 'arn:identity' }, resolve).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('IDENTITY_KEY');
  });

  it('throws a ConfigError naming the variable when a SECRET_ARN is set without a resolver', async () => {
    const error = await loadConfig({ AUDIT_TOKENS_SECRET_ARN: 'arn:tokens' }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('AUDIT_TOKENS_SECRET_ARN');
  });

  it('parses a plain environment without needing a resolver', async () => {
    const config = await loadConfig({ REQUESTS_TABLE: 'requests-dev' });

    expect(config.tables.requests).toBe('requests-dev');
    expect(Object.isFrozen(config)).toBe(true);
  });
});

describe('required', () => {
  it('throws a ConfigError naming the variable when the value is missing', () => {
    const error = thrown(() => required(undefined, 'FIRSTPROMOTER_API_KEY'));

    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('FIRSTPROMOTER_API_KEY');
  });

  it('returns a present value unchanged', () => {
    const value = ['whsec_abc'];

    expect(required(value, 'WEBHOOK_SECRET')).toBe(value);
  });
});

describe('parseConfig immutability', () => {
  it('freezes nested sections too', () => {
    const config = parseConfig({});

    expect(Object.isFrozen(config.batchPoll)).toBe(true);
    expect(Object.isFrozen(config.referralRock)).toBe(true);
    expect(() => {
      (config.batchPoll as { intervalSeconds: number }).intervalSeconds = 1;
    }).toThrow(TypeError);
  });
});

describe('loadSections (one function’s configuration)', () => {
  it('fetches every secret given as <NAME>_SECRET_ARN at once, not one after another', async () => {
    const values: Record<string, string> = { 'arn:audit': TOKEN_A, 'arn:operator': TOKEN_B };
    const asked: Array<{ secretId: string; answer: (value: string) => void }> = [];
    const resolve: SecretResolver = (secretId) => new Promise((answer) => asked.push({ secretId, answer }));
    const nextTurn = () => new Promise((done) => setImmediate(done));

    const loading = loadSections(
      access,
      { AUDIT_TOKENS_SECRET_ARN: 'arn:audit', OPERATOR_TOKENS_SECRET_ARN: 'arn:operator' },
      resolve,
    );
    await nextTurn();
    const askedBeforeAnyAnswer = asked.length;
    // Answer whatever is asked until loading ends: a resolver called one secret after another asks again each time.
    let ended = false;
    void loading.finally(() => {
      ended = true;
    });
    while (!ended) {
      for (const { secretId, answer } of asked.splice(0)) answer(values[secretId] as string);
      await nextTurn();
    }
    const config = await loading;

    expect(askedBeforeAnyAnswer).toBe(2);
    expect(config.auditTokens).toEqual([TOKEN_A]);
    expect(config.operatorTokens).toEqual([TOKEN_B]);
  });

  it('reads only the sections asked for: another section’s bad variable is not this function’s concern', async () => {
    const config = await loadSections((env) => ({ ...storage(env), ...access(env) }), {
      REQUESTS_TABLE: 'requests-dev',
      AUDIT_TOKENS: TOKEN_A,
      IDENTITY_KEY: key(8),
    });

    expect(config).toEqual({
      tables: expect.objectContaining({ requests: 'requests-dev' }),
      auditRetentionDays: 3 * 365 + 1,
      dynamoDbEndpoint: undefined,
      auditTokens: [TOKEN_A],
      operatorTokens: undefined,
      suppressionTokens: undefined,
    });
    expect(Object.isFrozen(config.tables)).toBe(true);
  });

  it('fails at start naming every bad variable of its sections, never echoing a value', async () => {
    const error = await loadSections((env) => ({ ...keys(env), ...providers(env) }), {
      IDENTITY_KEY: key(8),
      PROVIDER_TIMEOUT_MS: 'soon',
      REFERRALROCK_BASE_URL: 'ftp://user:hunter2@example.com',
    }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const name of ['IDENTITY_KEY', 'PROVIDER_TIMEOUT_MS', 'REFERRALROCK_BASE_URL'])
      expect(message).toContain(name);
    expect(message).not.toContain('hunter2');
  });
});

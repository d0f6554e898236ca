import type { LocalRuntime } from './runtime.ts';
import type { LocalSecrets, SecretSource } from './secrets.ts';
import type { LocalWorkflowControl } from './workflow-engine.ts';

/** The sender routes of SENDERS, and where their secrets are (never the secrets: the README shows how to read one). */
function senderLines(runtime: LocalRuntime<LocalWorkflowControl>): string[] {
  if (runtime.config.senders.length === 0) return [];
  const where =
    runtime.senderSecretsFrom === 'file'
      ? `SENDER_SECRETS in ${runtime.secretsFile}`
      : 'SENDER_SECRETS in the environment';
  return [
    '',
    `Senders (secrets: ${where}):`,
    ...runtime.config.senders.map(
      (sender) =>
        `  ${sender.name} (${sender.profile}): POST ${runtime.url}/v1/senders/${sender.name}/erasure-requests`,
    ),
  ];
}

/** The secrets a person starting the service needs in hand: the sender's secret and the kinds of token. */
const SHOWN: readonly (keyof LocalSecrets)[] = [
  'WEBHOOK_SECRET',
  'AUDIT_TOKENS',
  'OPERATOR_TOKENS',
  'SUPPRESSION_TOKENS',
];

const SOURCE_TEXT: Record<SecretSource, string> = {
  environment: 'from the environment (not shown)',
  file: 'from the secrets file',
  generated: 'generated now, kept in the secrets file',
};

/**
 * What `npm start` prints first: where the service listens, what it runs against, and where each secret came from.
 * A secret the environment provides is never printed (whoever set it has it; a terminal log should not); generated
 * ones are, as the person who just started the service has no other way to learn them. The keys (PSEUDONYM_KEY,
 * IDENTITY_KEY) are never printed: nobody but the service uses them; nor is CALLBACK_SECRET, which the callback
 * receivers are given from the secrets file.
 */
export function startBanner(runtime: LocalRuntime<LocalWorkflowControl>, logFormat: string): string {
  const { secrets, secretSources: sources, config, url } = runtime;
  const provider = (simulated: boolean, baseUrl: string | undefined) =>
    simulated ? `simulator at ${baseUrl} (demo data)` : (baseUrl ?? '');
  const token = (name: 'AUDIT_TOKENS' | 'OPERATOR_TOKENS') =>
    sources[name] === 'environment' ? `<${name} value>` : (secrets[name].split(',')[0] as string);
  const width = Math.max(...Object.keys(sources).map((name) => name.length));
  return [
    `GDPR erasure service listening on ${url}`,
    `  data:           ${runtime.dataDir} (audit trail kept across restarts)`,
    ...(runtime.dataDirTakenOverFrom === undefined
      ? []
      : [`                  (taken over from process ${runtime.dataDirTakenOverFrom}, which ended without stopping)`]),
    `  Referral Rock:  ${provider(runtime.simulated.referralRock, config.referralRock.baseUrl)}`,
    `  FirstPromoter:  ${provider(runtime.simulated.firstPromoter, config.firstPromoter.baseUrl)}`,
    `  waiting period: ${config.waitingPeriodSeconds}s`,
    `  logs:           ${logFormat} (LOG_FORMAT=pretty|json)`,
    `  API document:   ${url}/openapi.json`,
    `  console:        ${url}/console (sign in with an AUDIT_TOKENS value)`,
    '',
    `Secrets (secrets file: ${runtime.secretsFile}, outside the data directory):`,
    ...(runtime.movedLegacySecrets
      ? ['  (moved there now from the data directory, where earlier versions kept it)']
      : []),
    ...Object.entries(sources).map(([name, source]) => `  ${name.padEnd(width)}  ${SOURCE_TEXT[source]}`),
    ...SHOWN.filter((name) => sources[name] !== 'environment').map((name) => `${name}=${secrets[name]}`),
    ...senderLines(runtime),
    '',
    'Send a signed erasure request for a demo subject (in another terminal):',
    '  npm run submit -- --email jane@example.com',
    'Then read its audit trail (an audit token):',
    `  curl -H "Authorization: Bearer ${token('AUDIT_TOKENS')}" ${url}/v1/erasure-requests/<id>`,
    'Cancel one in its waiting period (an operator token; audit tokens only read):',
    `  curl -X POST -H "Authorization: Bearer ${token('OPERATOR_TOKENS')}" ${url}/v1/erasure-requests/<id>/cancel`,
    '',
  ].join('\n');
}

import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LocalRuntime } from './runtime.ts';
import type { LocalSecrets, SecretSource } from './secrets.ts';
import { localSecretsFile } from './secrets-file.ts';
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

/** Where `npm run` runs a script, whatever directory it is typed in: the project's root. */
const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** What the local CLIs (`submit`, `verify-trail`, `report`, …) call without `--url`, PORT or SERVICE_URL. */
const DEFAULT_URL = 'http://127.0.0.1:3000';

/** A word as a POSIX shell reads it back unchanged: as is when it holds nothing the shell treats specially. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * The `npm run submit` that reaches this service when pasted into another terminal, where none of this start's
 * settings are: `--url` unless the service is at the CLIs' default address, the data directory (and secrets file)
 * unless they are the defaults, so that submit finds the webhook secret this service checks; and where that secret
 * came from the environment, the variable to set (submit cannot read it from the secrets file then).
 */
export function submitCommand(
  runtime: Pick<LocalRuntime<LocalWorkflowControl>, 'url' | 'dataDir' | 'secretsFile' | 'secretSources'>,
  home = process.env.HOME,
): string {
  const settings: string[] = [];
  if (runtime.secretSources.WEBHOOK_SECRET === 'environment') settings.push('WEBHOOK_SECRET="<WEBHOOK_SECRET value>"');
  const dataDir = resolve(runtime.dataDir);
  if (dataDir !== resolve(PROJECT_ROOT, '.data')) settings.push(`DATA_DIR=${shellWord(dataDir)}`);
  // LOCAL_SECRETS_FILE or XDG_CONFIG_HOME moved the secrets file: name it, as the other terminal may have neither.
  if (runtime.secretsFile !== localSecretsFile(dataDir, { HOME: home })) {
    settings.push(`LOCAL_SECRETS_FILE=${shellWord(runtime.secretsFile)}`);
  }
  const url = runtime.url === DEFAULT_URL ? '' : ` --url ${shellWord(runtime.url)}`;
  return [...settings, `npm run submit -- --email jane@example.com${url}`].join(' ');
}

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
      : [
          // The holder's id, which may since be another process's: the holder ended, not necessarily that id.
          `                  (taken over: the instance that held it, process ${runtime.dataDirTakenOverFrom}, ended without stopping)`,
        ]),
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
    `  ${submitCommand(runtime)}`,
    'Then read its audit trail (an audit token; submit prints this with the id filled in):',
    `  curl -s -H "Authorization: Bearer ${token('AUDIT_TOKENS')}" ${url}/v1/erasure-requests/<id>`,
    'Cancel one in its waiting period (an operator token; audit tokens only read):',
    `  curl -s -X POST -H "Authorization: Bearer ${token('OPERATOR_TOKENS')}" ${url}/v1/erasure-requests/<id>/cancel`,
    '',
  ].join('\n');
}

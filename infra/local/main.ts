import { ConfigError } from '#shared/config';
import { type LocalRuntime, startLocalRuntime } from './runtime.ts';

/** The sender routes of SENDERS, and where their secrets are (never the secrets: the README shows how to read one). */
function senderLines(runtime: LocalRuntime): string[] {
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

/** `npm start`: the whole service on this machine. */
try {
  const runtime = await startLocalRuntime();
  const token = runtime.secrets.AUDIT_TOKENS.split(',')[0];
  const out = [
    `GDPR erasure service listening on ${runtime.url}`,
    `  data:           ${runtime.dataDir} (audit trail kept across restarts)`,
    `  Referral Rock:  ${runtime.simulators.referralRock ? `simulator at ${runtime.config.referralRock.baseUrl} (demo data)` : runtime.config.referralRock.baseUrl}`,
    `  FirstPromoter:  ${runtime.simulators.firstPromoter ? `simulator at ${runtime.config.firstPromoter.baseUrl} (demo data)` : runtime.config.firstPromoter.baseUrl}`,
    `  waiting period: ${runtime.config.waitingPeriodSeconds}s`,
    '',
    `WEBHOOK_SECRET=${runtime.secrets.WEBHOOK_SECRET}`,
    `AUDIT_TOKENS=${runtime.secrets.AUDIT_TOKENS}`,
    `OPERATOR_TOKENS=${runtime.secrets.OPERATOR_TOKENS}`,
    `SUPPRESSION_TOKENS=${runtime.secrets.SUPPRESSION_TOKENS}`,
    runtime.secretsCreated
      ? `(generated now and kept in ${runtime.secretsFile}, outside the data directory)`
      : `(from the environment or ${runtime.secretsFile})`,
    ...senderLines(runtime),
    '',
    'Send a signed erasure request for a demo subject (in another terminal):',
    '  npm run submit -- --email jane@example.com',
    'Then read its audit trail:',
    `  curl -H "Authorization: Bearer ${token}" ${runtime.url}/v1/erasure-requests/<id>`,
    'Cancel one in its waiting period (an operator token; audit tokens only read):',
    `  curl -X POST -H "Authorization: Bearer ${runtime.secrets.OPERATOR_TOKENS.split(',')[0]}" ${runtime.url}/v1/erasure-requests/<id>/cancel`,
    runtime.resumed.length ? `\nResumed ${runtime.resumed.length} unfinished request(s).` : '',
  ];
  process.stdout.write(`${out.join('\n')}\n`);

  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('Stopping: aborting running workflows; they resume at the next start.\n');
    await runtime.stop({ crash: true });
    process.exit(0);
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(78);
  }
  throw error;
}

import { parseSenders } from '#shared/http/senders/config';
import type { SenderConfig } from '#shared/http/senders/profile';
import type { EnvironmentReader } from './environment.ts';

export interface SendersConfig {
  /** The sender profiles of `SENDERS`, each with its secrets from `SENDER_SECRETS`; none when SENDERS is unset. */
  senders: readonly SenderConfig[];
}

/**
 * The sender profiles (`SENDERS`, `SENDER_SECRETS`), parsed by `parseSenders`, which names each problem by sender and
 * field. A section of its own: only the sender intake (and the local runtime) bundles the profiles and their checks.
 */
export function senders(env: EnvironmentReader): SendersConfig {
  const parsed = parseSenders(env.raw('SENDERS'), env.raw('SENDER_SECRETS'));
  env.problems.push(...parsed.problems);
  return { senders: parsed.senders };
}

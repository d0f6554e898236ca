import { Logger } from '@aws-lambda-powertools/logger';

/**
 * One logger for every handler and the local runtime: structured JSON, service name, the erasure request id as
 * correlation id. Only ids, pseudonyms, outcomes and error names go in; never an email, an external id, or a body.
 */
export const SERVICE_NAME = 'gdpr-erasure';

export function createLogger(fn: string, options: { logLevel?: string } = {}): Logger {
  return new Logger({
    serviceName: SERVICE_NAME,
    persistentKeys: { function: fn },
    ...(options.logLevel ? { logLevel: options.logLevel as 'INFO' } : {}),
  });
}

/** What of an error may be logged: its name, message (ours carry no identifiers) and, for provider errors, its status. */
export function describeError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { errorName: typeof error };
  const status = (error as { status?: unknown }).status;
  return { errorName: error.name, errorMessage: error.message, ...(typeof status === 'number' ? { status } : {}) };
}

import type { RequestSummary } from '../domain/erasure-requests.ts';
import { ACTION_KEYS, ACTIONS } from '../domain/model.ts';
import { csvRecord } from './csv.ts';

/** The columns of `npm run export -- --format csv`: one row per request, one outcome and count column per action. */
export const EXPORT_COLUMNS = [
  'id',
  'status',
  'reference',
  'receivedAt',
  'dueAt',
  'completedAt',
  // A cancel ends a request without completing it: when it was accepted, else lost from the export.
  'canceledAt',
  'overdue',
  'extendedMonths',
  'extensionReason',
  'firstDueAt',
  'pseudonym',
  'identifiers',
  ...ACTION_KEYS.flatMap((key) => {
    const { provider, action } = ACTIONS[key];
    return [`${provider}.${action}.outcome`, `${provider}.${action}.count`];
  }),
] as const;

export const exportCsvHeader = (): string => csvRecord(EXPORT_COLUMNS);

/** One request as a CSV record, in {@link EXPORT_COLUMNS} order. */
export function exportCsvRecord(request: RequestSummary): string {
  const actions = new Map(request.actions.map((a) => [`${a.provider}.${a.action}`, a]));
  return csvRecord([
    request.id,
    request.status,
    request.reference,
    request.receivedAt,
    request.dueAt,
    request.completedAt,
    request.canceledAt,
    request.overdue,
    request.extension?.months,
    request.extension?.reasonCode,
    request.extension?.previousDueAt,
    request.subject.pseudonym,
    request.subject.identifiers.join(' '),
    ...ACTION_KEYS.flatMap((key) => {
      const { provider, action } = ACTIONS[key];
      const found = actions.get(`${provider}.${action}`);
      return [found?.outcome, found?.count];
    }),
  ]);
}

/** One request as a JSON Lines record. */
export const exportJsonLine = (request: RequestSummary): string => `${JSON.stringify(request)}\n`;

import type { IdentifierKind } from '#shared/crypto/pseudonym';
import {
  ACTION_KEYS,
  type ActionRecord,
  type AuditEvent,
  type ErasureRequest,
  FINAL_STATUSES,
  type RequestStatus,
  SEALING_EVENTS,
} from '#shared/domain/model';

/**
 * What a receipt states, and how its pieces travel. A receipt is a compact JWS whose payload is {@link ReceiptClaims}:
 * the facts of one finished request, with the person only as a pseudonym. Its bytes are a leaf of the transparency log,
 * so what is proven in the log is exactly what was signed.
 */

/** An action as the receipt states it: the status view's action, with its read-back proof. */
export type ReceiptAction = Omit<ActionRecord, 'updatedAt'>;

export interface ReceiptClaims {
  /** Who issued it (PUBLIC_BASE_URL, or the service's name). */
  iss: string;
  /** When it was signed, in seconds since the epoch (as JWT's `iat`). */
  iat: number;
  requestId: string;
  reference: string | null;
  subject: { pseudonym: string; identifiers: IdentifierKind[] };
  receivedAt: string;
  dueAt: string;
  completedAt: string;
  status: RequestStatus;
  /** Whether it ended by `dueAt` (absent for a canceled request, which has no erasure to judge). */
  withinDeadline?: boolean;
  /**
   * The deadline extension (Art. 12(3)), from the `request.extended` event: when, by how many months, the reason code,
   * the first and the extended due date. Its free-text note is left out: a receipt names nobody.
   */
  extension?: { extendedAt: string; months: unknown; reasonCode: unknown; previousDueAt: unknown; dueAt: unknown };
  actions: ReceiptAction[];
  /** The last event of the request's hash chain: its sealing event. */
  chainHead: { seq: number; hash: string };
}

/** The payload of a signed tree head (RFC 9162 §4.10's tree head, in JSON): the log's size and root at a time. */
export interface TreeHeadClaims {
  iss: string;
  treeSize: number;
  /** RFC 9162 root hash of the first `treeSize` leaves, hex. */
  rootHash: string;
  /** Milliseconds since the epoch, as RFC 9162's timestamps. */
  timestamp: number;
}

/** `GET /v1/erasure-requests/{id}/receipt`: the receipt, and where it is in the log, proven against a signed head. */
export interface ReceiptBundle {
  receipt: string;
  transparencyLog: {
    leafIndex: number;
    treeSize: number;
    /** Compact JWS of {@link TreeHeadClaims} for `treeSize`. */
    treeHead: string;
    /** RFC 9162 §2.1.3 inclusion proof of the leaf in that tree, hex. */
    inclusionProof: string[];
  };
}

/** The request's trail has not ended, so there is nothing final to sign yet. */
export class ReceiptNotReadyError extends Error {
  override name = 'ReceiptNotReadyError';
}

/**
 * The receipt of a request whose trail is sealed, from what the tables hold: the status and completion time the
 * sealing event recorded, every action with its outcome, counts, batch id, errors, notes and read-back proof, and the
 * chain head. Deterministic apart from `iat`: built twice from the same trail, it states the same facts.
 * @throws ReceiptNotReadyError when the last event is not a sealing event (`request.completed` / `request.canceled`)
 */
export function buildReceiptClaims(
  request: ErasureRequest,
  events: readonly AuditEvent[],
  issuedAt: Date,
  issuer: string,
): ReceiptClaims {
  const last = events.at(-1);
  if (!last || !SEALING_EVENTS.includes(last.type)) {
    throw new ReceiptNotReadyError(`The audit trail of ${request.id} has not ended`);
  }
  const sealed = last.type === 'request.completed' ? last.data : undefined;
  const status = (sealed?.status as RequestStatus | undefined) ?? 'canceled';
  if (!FINAL_STATUSES.includes(status)) throw new ReceiptNotReadyError(`${request.id} ended in no final status`);
  // A canceled request ended when its cancel was accepted (`canceledAt`; stored as `completedAt` before it existed).
  const completedAt =
    (sealed?.completedAt as string | undefined) ?? request.completedAt ?? request.canceledAt ?? last.at;
  const extended = events.findLast((e) => e.type === 'request.extended');
  const extension = extended && {
    extendedAt: extended.at,
    months: extended.data.months,
    reasonCode: extended.data.reasonCode,
    previousDueAt: extended.data.previousDueAt,
    dueAt: extended.data.dueAt,
  };
  return {
    iss: issuer,
    iat: Math.floor(issuedAt.getTime() / 1000),
    requestId: request.id,
    reference: request.reference ?? null,
    subject: { pseudonym: request.subject.pseudonym, identifiers: request.subject.identifiers },
    receivedAt: request.receivedAt,
    dueAt: request.dueAt,
    completedAt,
    status,
    ...(typeof sealed?.withinDeadline === 'boolean' ? { withinDeadline: sealed.withinDeadline } : {}),
    ...(extension ? { extension } : {}),
    actions: ACTION_KEYS.flatMap((key) => {
      const record = request.actions[key];
      if (!record) return [];
      const { updatedAt: _u, ...action } = record;
      return [action];
    }),
    chainHead: { seq: last.seq, hash: last.hash },
  };
}

import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { ErasureRequest, NewAuditEvent } from '#shared/domain/model';
import type { Clock } from '#shared/ports/audit';
import { systemClock } from '#shared/ports/audit';
import { AuditChain } from '../audit-chain.ts';
import { rememberChainOf } from '../chain-head.ts';
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '../document-client.ts';
import { DynamoIdentityTable, type MakeDeletionFinal } from '../identity-table.ts';
import { type RequestItem, toRequest } from './items.ts';

export interface RequestsTableOptions {
  /**
   * Whether `get` returns the encrypted identity. Only the functions that search the providers need it, and only they
   * are granted reads of the identities table.
   */
  readIdentity?: boolean;
  /** Runs after each identity deletion (see {@link MakeDeletionFinal}): the local runtime compacts dynalite here. */
  makeDeletionFinal?: MakeDeletionFinal;
  /** The clock and retention of the audit events a write appends with it (`events` options). */
  audit?: { clock: Clock; retentionDays: number };
}

/**
 * What every operation on the requests table works with: the client, the table names, the identities table and, with
 * an audit events table, the chain its writes append to. The operations are functions of their own (`create.ts`,
 * `reads.ts`, `moves.ts`, `actions.ts`), so a Lambda function bundles those it calls and no other (a class would
 * bring every method, and every command those methods send, into every bundle).
 */
export interface RequestsTable {
  readonly db: DynamoDBDocumentClient;
  readonly name: string;
  readonly identitiesName: string;
  readonly makeDeletionFinal: MakeDeletionFinal | undefined;
  readonly readIdentity: boolean;
  readonly audit: { clock: Clock; retentionDays: number };
  /** Undefined without an audit events table: a write with events then fails (see {@link chainFor}). */
  readonly chain: AuditChain | undefined;
}

/**
 * The requests table and its identities table.
 * @param tables with `auditEvents`, writes can append audit events in the same atomic write (`events` options)
 */
export function requestsTable(
  db: DynamoDBDocumentClient,
  tables: { requests: string; identities: string; auditEvents?: string },
  options: RequestsTableOptions = {},
): RequestsTable {
  const audit = options.audit ?? { clock: systemClock, retentionDays: 1096 };
  return {
    db,
    name: tables.requests,
    identitiesName: tables.identities,
    makeDeletionFinal: options.makeDeletionFinal,
    readIdentity: options.readIdentity ?? false,
    audit,
    chain: tables.auditEvents
      ? new AuditChain(db, { requests: tables.requests, auditEvents: tables.auditEvents }, audit)
      : undefined,
  };
}

/**
 * The identities table, for the operations that delete identities (built on use, so that a function that only creates
 * or reads requests does not bundle its scans and deletes).
 */
export const identitiesOf = (table: RequestsTable): DynamoIdentityTable =>
  new DynamoIdentityTable(table.db, table.identitiesName, table.makeDeletionFinal);

/** The chain a write with `events` appends to. @throws Error when the table was built without an audit events table */
export function chainFor(table: RequestsTable, events: readonly NewAuditEvent[] | undefined): AuditChain {
  if (!table.chain) throw new Error(`No audit events table to append ${events?.[0]?.type ?? 'events'} to`);
  return table.chain;
}

/** The request item as stored, read consistently; the legacy `identity` attribute only with `keepLegacyIdentity`. */
export async function readRequest(
  table: RequestsTable,
  id: string,
  keepLegacyIdentity = false,
): Promise<ErasureRequest | undefined> {
  const { Item } = await table.db.send(new GetCommand({ TableName: table.name, Key: { id }, ConsistentRead: true }));
  rememberChainOf(Item);
  return Item ? toRequest(Item as RequestItem, keepLegacyIdentity) : undefined;
}

export type RequestUpdate = Omit<ConstructorParameters<typeof UpdateCommand>[0], 'TableName'>;

/**
 * One UpdateItem of the request item. Returns the attributes asked for with `ReturnValues` (an empty object
 * otherwise), or undefined when its condition did not hold; other errors are thrown.
 */
export async function updateRequest(
  table: RequestsTable,
  input: RequestUpdate,
): Promise<Record<string, unknown> | undefined> {
  try {
    const { Attributes } = await table.db.send(new UpdateCommand({ TableName: table.name, ...input }));
    if (input.ReturnValues === 'ALL_NEW') rememberChainOf(Attributes);
    return Attributes ?? {};
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return undefined;
    throw error;
  }
}

/** A guarded write: true when it was made, false when its condition did not hold. */
export const updatedRequest = async (table: RequestsTable, input: RequestUpdate): Promise<boolean> =>
  (await updateRequest(table, input)) !== undefined;

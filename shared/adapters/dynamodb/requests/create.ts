import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { addDays, epochSeconds } from '#shared/domain/dates';
import type { ErasureRequest, NewAuditEvent } from '#shared/domain/model';
import { ConflictError } from '#shared/errors';
import type { CreateResult } from '#shared/ports/audit';
import { emptyChain, rememberChain } from '../chain-head.ts';
import { PutCommand, TransactWriteCommand } from '../document-client.ts';
import type { RequestItem } from './items.ts';
import { chainFor, type RequestsTable, readRequest } from './table.ts';

/**
 * How long an identity may outlive its request's due date before TTL removes it, should nothing delete it first: the
 * two further months GDPR Art. 12(3) allows for answering (62 days covers any two consecutive calendar months). The
 * configuration keeps a waiting period and a batch poll timeout at 30 days each at most (hours by default), so no
 * request that can still lawfully finish loses its identity; TTL is only the backstop behind finalize, cancel and the
 * sweeper.
 */
const IDENTITY_LIFE_AFTER_DUE_DAYS = 62;

/**
 * `RequestRepository.create`: one atomic write of the identity, the request item (holding its chain head) and `events`
 * (its first audit events), each only if absent. A request already stored (a redelivery, even of a finished request)
 * cancels the whole write and is returned, so no identity is written again for it (an identity destroyed at the end
 * stays destroyed).
 * @throws ConflictError when this id's identity was stored for a different payload and no request exists yet
 */
export async function createRequest(
  table: RequestsTable,
  request: ErasureRequest,
  options: { events?: readonly NewAuditEvent[] } = {},
): Promise<CreateResult> {
  const { identity, ...rest } = request;
  const events = options.events ?? [];
  const chain = events.length ? chainFor(table, events).plan(request.id, emptyChain(), events) : undefined;
  const head = chain?.next ?? emptyChain();
  const item: RequestItem & Record<string, unknown> = {
    ...rest,
    // Top-level copies feed the pseudonym indexes (an index key cannot be a nested attribute).
    ...(request.subject.emailPseudonym ? { emailPseudonym: request.subject.emailPseudonym } : {}),
    ...(request.subject.externalIdPseudonym ? { externalIdPseudonym: request.subject.externalIdPseudonym } : {}),
    chainSeq: head.seq,
    chainHash: head.hash,
    chainKeys: head.keys,
    ...(head.sealed ? { chainSealed: true } : {}),
  };
  const writes = [
    ...(identity === undefined
      ? []
      : [
          {
            Put: {
              TableName: table.identitiesName,
              Item: {
                id: request.id,
                identity,
                payloadHash: request.payloadHash,
                createdAt: request.receivedAt,
                expiresAt: epochSeconds(addDays(new Date(request.dueAt), IDENTITY_LIFE_AFTER_DUE_DAYS)),
              },
              // The same payload's identity (a crashed earlier attempt's) is replaced: it decrypts to the same.
              ConditionExpression: 'attribute_not_exists(id) OR payloadHash = :payloadHash',
              ExpressionAttributeValues: { ':payloadHash': request.payloadHash },
            },
          },
        ]),
    ...(chain?.pending ?? []).map((event) => ({
      Put: {
        TableName: chainFor(table, events).eventsTable,
        Item: event,
        ConditionExpression: 'attribute_not_exists(seq)',
      },
    })),
    { Put: { TableName: table.name, Item: item, ConditionExpression: 'attribute_not_exists(id)' } },
  ];
  try {
    if (writes.length === 1) await table.db.send(new PutCommand(writes[0]?.Put as never));
    else await table.db.send(new TransactWriteCommand({ TransactItems: writes }));
    rememberChain(request.id, { ...head, itemSeq: head.seq });
    return { created: true, request, ...(head.seq > 0 ? { lastEvent: { seq: head.seq, hash: head.hash } } : {}) };
  } catch (error) {
    const identityRefused =
      identity !== undefined &&
      error instanceof TransactionCanceledException &&
      error.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed';
    if (!(error instanceof ConditionalCheckFailedException || error instanceof TransactionCanceledException)) {
      throw error;
    }
    const existing = await readRequest(table, request.id);
    if (existing) return { created: false, request: existing };
    if (identityRefused) throw new ConflictError('This webhook-id was already used for a different request');
    throw error;
  }
}

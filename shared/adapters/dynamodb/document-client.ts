import {
  type AttributeValue,
  BatchGetItemCommand,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand as QueryItemsCommand,
  ScanCommand as ScanItemsCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type {
  BatchGetCommandInput,
  BatchGetCommandOutput,
  DeleteCommandInput,
  DeleteCommandOutput,
  GetCommandInput,
  GetCommandOutput,
  PutCommandInput,
  PutCommandOutput,
  QueryCommandInput,
  QueryCommandOutput,
  ScanCommandInput,
  ScanCommandOutput,
  TransactWriteCommandInput,
  TransactWriteCommandOutput,
  UpdateCommandInput,
  UpdateCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';

export type { BatchGetCommandInput, BatchGetCommandOutput, TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';

/**
 * The document commands this service sends (Get, Put, Update, Delete, Query, Scan, BatchGet, TransactWrite), with
 * plain JavaScript values where DynamoDB takes attribute values: the inputs and outputs of `@aws-sdk/lib-dynamodb`'s
 * commands of the same names (its types), marshalled with `@aws-sdk/util-dynamodb` as its document client does
 * (`removeUndefinedValues`; numbers back as numbers), and sent through the DynamoDB client itself, so the client's
 * middleware (deadline abort, transaction conflict retries) applies to them alike.
 *
 * Why not the library's document client: it bundles a command class per operation with maps of where the values sit,
 * its paginators (a Scan and a Query command whichever are sent) and a middleware layer: 6.2 KiB minified in every
 * function, where these wrappers take about 1.5; with it `sender-intake` was over issue 12's bundle budget (1.3x the
 * reference handler). Only the attributes the service writes are converted: item, key, expression values, and the
 * items and keys of answers. Not the legacy parameters (`Expected`, `KeyConditions`, `AttributeUpdates`...), which
 * nothing here sends.
 */

type Item = Record<string, unknown>;
type Marshalled = Record<string, AttributeValue>;

const toAttributes = (values: Item): Marshalled => marshall(values, { removeUndefinedValues: true });
const maybeAttributes = (values: Item | undefined): Marshalled | undefined => values && toAttributes(values);
const fromAttributes = (item: Marshalled | undefined): Item | undefined => item && unmarshall(item);

/** A command with document values: what it sends to the client, and how the client's answer is read back. */
interface DocumentCommand<Input, Output> {
  readonly input: Input;
  /** The DynamoDB command to send. */
  request(): { input: object };
  /** The answer with document values. */
  answer(output: Record<string, unknown>): Output;
}

/** The input every document command keeps as given (read back by tests and by retries). */
class Command<Input> {
  readonly input: Input;
  constructor(input: Input) {
    this.input = input;
  }
}

/** Key, item and expression values of a single-item operation, marshalled. */
const single = <T extends { Key?: Item; Item?: Item; ExpressionAttributeValues?: Item }>(input: T) => ({
  ...input,
  ...(input.Key ? { Key: toAttributes(input.Key) } : {}),
  ...(input.Item ? { Item: toAttributes(input.Item) } : {}),
  ...(input.ExpressionAttributeValues
    ? { ExpressionAttributeValues: toAttributes(input.ExpressionAttributeValues) }
    : {}),
});

/** `Attributes` (what ReturnValues asked for) read back. */
const withAttributes = <O>(output: Record<string, unknown>): O =>
  ({ ...output, Attributes: fromAttributes(output.Attributes as Marshalled | undefined) }) as O;

export class GetCommand extends Command<GetCommandInput> implements DocumentCommand<GetCommandInput, GetCommandOutput> {
  request() {
    return new GetItemCommand(single(this.input) as never);
  }
  answer(output: Record<string, unknown>): GetCommandOutput {
    return { ...output, Item: fromAttributes(output.Item as Marshalled | undefined) } as GetCommandOutput;
  }
}

export class PutCommand extends Command<PutCommandInput> implements DocumentCommand<PutCommandInput, PutCommandOutput> {
  request() {
    return new PutItemCommand(single(this.input) as never);
  }
  answer = withAttributes<PutCommandOutput>;
}

export class UpdateCommand
  extends Command<UpdateCommandInput>
  implements DocumentCommand<UpdateCommandInput, UpdateCommandOutput>
{
  request() {
    return new UpdateItemCommand(single(this.input) as never);
  }
  answer = withAttributes<UpdateCommandOutput>;
}

export class DeleteCommand
  extends Command<DeleteCommandInput>
  implements DocumentCommand<DeleteCommandInput, DeleteCommandOutput>
{
  request() {
    return new DeleteItemCommand(single(this.input) as never);
  }
  answer = withAttributes<DeleteCommandOutput>;
}

/** A page of a Query or Scan: its items and the key to start the next page at. */
const page = <O>(output: Record<string, unknown>): O =>
  ({
    ...output,
    Items: (output.Items as Marshalled[] | undefined)?.map((item) => unmarshall(item)),
    LastEvaluatedKey: fromAttributes(output.LastEvaluatedKey as Marshalled | undefined),
  }) as O;

const paged = <T extends { ExclusiveStartKey?: Item; ExpressionAttributeValues?: Item }>(input: T) => ({
  ...input,
  ExclusiveStartKey: maybeAttributes(input.ExclusiveStartKey),
  ExpressionAttributeValues: maybeAttributes(input.ExpressionAttributeValues),
});

export class QueryCommand
  extends Command<QueryCommandInput>
  implements DocumentCommand<QueryCommandInput, QueryCommandOutput>
{
  request() {
    return new QueryItemsCommand(paged(this.input) as never);
  }
  answer = page<QueryCommandOutput>;
}

export class ScanCommand
  extends Command<ScanCommandInput>
  implements DocumentCommand<ScanCommandInput, ScanCommandOutput>
{
  request() {
    return new ScanItemsCommand(paged(this.input) as never);
  }
  answer = page<ScanCommandOutput>;
}

/** Each table's entry of a BatchGet's `RequestItems` or `UnprocessedKeys`, its keys converted by `convert`. */
const keysOfTables = <From, To>(
  tables: Record<string, { Keys?: From[] }> | undefined,
  convert: (key: From) => To,
): Record<string, object> | undefined =>
  tables &&
  Object.fromEntries(
    Object.entries(tables).map(([table, entry]) => [table, { ...entry, Keys: entry.Keys?.map(convert) }]),
  );

export class BatchGetCommand
  extends Command<BatchGetCommandInput>
  implements DocumentCommand<BatchGetCommandInput, BatchGetCommandOutput>
{
  request() {
    return new BatchGetItemCommand({
      ...this.input,
      RequestItems: keysOfTables(this.input.RequestItems as Record<string, { Keys?: Item[] }>, toAttributes),
    } as never);
  }
  answer(output: Record<string, unknown>): BatchGetCommandOutput {
    const responses = output.Responses as Record<string, Marshalled[]> | undefined;
    return {
      ...output,
      Responses:
        responses &&
        Object.fromEntries(Object.entries(responses).map(([table, items]) => [table, items.map((i) => unmarshall(i))])),
      UnprocessedKeys: keysOfTables(
        output.UnprocessedKeys as Record<string, { Keys?: Marshalled[] }> | undefined,
        (key) => unmarshall(key),
      ),
    } as BatchGetCommandOutput;
  }
}

export class TransactWriteCommand
  extends Command<TransactWriteCommandInput>
  implements DocumentCommand<TransactWriteCommandInput, TransactWriteCommandOutput>
{
  request() {
    const items = this.input.TransactItems?.map((item) => ({
      ...item,
      ...(item.Put ? { Put: single(item.Put) } : {}),
      ...(item.Update ? { Update: single(item.Update) } : {}),
      ...(item.Delete ? { Delete: single(item.Delete) } : {}),
      ...(item.ConditionCheck ? { ConditionCheck: single(item.ConditionCheck) } : {}),
    }));
    return new TransactWriteItemsCommand({ ...this.input, TransactItems: items } as never);
  }
  answer(output: Record<string, unknown>): TransactWriteCommandOutput {
    return output as TransactWriteCommandOutput;
  }
}

/**
 * The DynamoDB client with document values: `send(new GetCommand({ TableName, Key: { id } }))` answers `{ Item }` as
 * plain values. Errors are the client's own (a refused condition's `Item`, or a cancelled transaction's reasons' items,
 * stay attribute values, as with the library's document client).
 */
export class DynamoDBDocumentClient {
  /** @param client the DynamoDB client every command goes through */
  static from(client: DynamoDBClient): DynamoDBDocumentClient {
    return new DynamoDBDocumentClient(client);
  }

  readonly client: DynamoDBClient;

  constructor(client: DynamoDBClient) {
    this.client = client;
  }

  async send<Input, Output>(command: DocumentCommand<Input, Output>): Promise<Output> {
    const output = await this.client.send(command.request() as never);
    return command.answer(output as never);
  }
}

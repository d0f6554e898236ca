import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import middy from '@middy/core';

/**
 * The floor the functions are measured against (bundle size, import time): a handler that imports only the DynamoDB
 * client and middy, and reads one item. Bundled by the house construct's options, it is what any function of this
 * service would weigh with no code of its own.
 */
const client = new DynamoDBClient({});

export const handler = middy(async (event: { id: string }) => {
  const { Item } = await client.send(
    new GetItemCommand({ TableName: process.env.TABLE ?? 'reference', Key: { id: { S: event.id } } }),
  );
  return Item;
});

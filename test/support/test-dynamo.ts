import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { compactor, ensureTables, type LocalDynamo, localDynamoClient, startDynalite } from '#infra/local/dynamodb';

export interface TestDynamo extends LocalDynamo {
  /** Another client of the same tables, as a second process or Lambda instance would hold: answered directly too. */
  newClient(): DynamoDBClient;
}

/**
 * dynalite in memory for the tests of the stores and the domain, its clients answered by dynalite's handlers on the
 * test's thread (dynalite-direct.ts, what `npm start`'s API calls it through) instead of over loopback HTTP, where each
 * call also paid for an HTTP client and an HTTP server in the same process: 2.4-2.8 against 1.2-1.3 ms of CPU a PutItem
 * or GetItem (400 of each, twice, on the loaded 2-core machine). The SDK still builds and parses every call, and
 * dynalite answers with the same handlers. A test of the HTTP entrance itself (a call in flight, a connection) uses
 * `endpoint`.
 */
export async function startTestDynamo(): Promise<TestDynamo> {
  const dynalite = await startDynalite();
  const clients: DynamoDBClient[] = [];
  const newClient = () => {
    const client = localDynamoClient(dynalite.endpoint, { server: dynalite.server });
    clients.push(client);
    return client;
  };
  const client = newClient();
  return {
    endpoint: dynalite.endpoint,
    backgroundEndpoint: dynalite.backgroundEndpoint,
    client,
    newClient,
    ensureTables: (names) => ensureTables(client, names),
    compact: compactor(dynalite.store),
    stop: async () => {
      for (const each of clients.splice(0)) each.destroy();
      await dynalite.stop();
    },
  };
}

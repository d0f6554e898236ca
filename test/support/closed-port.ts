import { once } from 'node:events';
import { type AddressInfo, createServer } from 'node:net';

/** A loopback port nothing listens on: one the system gave a server that is closed again. */
export async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((closed) => server.close(closed));
  return port;
}

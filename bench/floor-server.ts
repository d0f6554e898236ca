import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The floor the intake is measured against: a bare node:http server that reads each request's body and answers 202
 * with a small JSON body, as the intake does, and nothing else. Prints its URL; runs until killed.
 */
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(202, { 'content-type': 'application/json; charset=utf-8' });
    res.end('{"id":"er_00000000000000000000000000000000","status":"received"}');
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`floor listening on http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});

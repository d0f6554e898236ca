import { createServer, get, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { addBackgroundEntrance } from '#infra/local/dynalite-precedence';

/** The local DynamoDB's second entrance: the workflows' calls give way to the API's. */

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function listening(server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const answer = (url: string) =>
  new Promise<string>((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });

/** A server standing in for dynalite: answers every path at once, except `/slow`, which waits for `finishSlow`. */
function standIn() {
  let finishSlow!: () => void;
  let slowArrived!: () => void;
  const arrived = new Promise<void>((resolve) => {
    slowArrived = resolve;
  });
  const server = createServer((req, res: ServerResponse) => {
    if (req.url === '/slow') {
      finishSlow = () => res.end('slow');
      slowArrived();
      return;
    }
    res.end(`answered ${req.url}`);
  });
  return { server, arrived, finishSlow: () => finishSlow() };
}

describe('the background entrance of the local DynamoDB', () => {
  it('holds background calls while a foreground call is being answered, then answers them in their order', async () => {
    // Prepare: a foreground call in progress
    const dynalite = standIn();
    const background = addBackgroundEntrance(dynalite.server, { maxHoldMs: 60_000 });
    const front = await listening(dynalite.server);
    const back = await listening(background);
    const slow = answer(`${front}/slow`);
    await dynalite.arrived;

    // Act: two background calls, then another foreground call
    const order: string[] = [];
    const first = answer(`${back}/first`).then((body) => order.push(body));
    const second = answer(`${back}/second`).then((body) => order.push(body));
    const foreground = await answer(`${front}/other`);

    // Assess: the foreground call went ahead of the held ones; those follow once nothing is in front of them
    expect(foreground).toBe('answered /other');
    expect(order).toEqual([]);
    dynalite.finishSlow();
    await Promise.all([slow, first, second]);
    expect(order).toEqual(['answered /first', 'answered /second']);
  });

  it('takes held calls up one per turn of the event loop, so what arrives meanwhile is not kept waiting behind all', async () => {
    // Prepare: three background calls held behind a foreground call in progress
    const dynalite = standIn();
    const started: string[] = [];
    // What had started by the time the task that started `/a` was done (its ticks included).
    let withA: Promise<string[]> | undefined;
    dynalite.server.prependListener('request', (req) => {
      started.push(String(req.url));
      if (req.url === '/a') withA = new Promise((resolve) => process.nextTick(() => resolve([...started])));
    });
    const background = addBackgroundEntrance(dynalite.server, { maxHoldMs: 60_000 });
    const front = await listening(dynalite.server);
    const back = await listening(background);
    const slow = answer(`${front}/slow`);
    await dynalite.arrived;
    let arrived = 0;
    const allArrived = new Promise<void>((resolve) =>
      background.on('request', () => {
        if (++arrived === 3) resolve();
      }),
    );
    const held = ['/a', '/b', '/c'].map((path) => answer(`${back}${path}`));
    await allArrived;

    // Act: the foreground call ends, which releases them
    dynalite.finishSlow();
    const answers = await Promise.all(held);

    // Assess: `/a` taken up alone, the others in later turns, all answered in their order
    expect(await withA).toEqual(['/slow', '/a']);
    expect(started).toEqual(['/slow', '/a', '/b', '/c']);
    expect(answers).toEqual(['answered /a', 'answered /b', 'answered /c']);
    await slow;
  });

  it('answers a background call at once when no foreground call is in progress', async () => {
    const dynalite = standIn();
    const background = addBackgroundEntrance(dynalite.server, { maxHoldMs: 60_000 });
    await listening(dynalite.server);
    const back = await listening(background);

    expect(await answer(`${back}/alone`)).toBe('answered /alone');
  });

  it('holds a background call no longer than its limit, however long a foreground call takes', async () => {
    const dynalite = standIn();
    const background = addBackgroundEntrance(dynalite.server, { maxHoldMs: 0 });
    const front = await listening(dynalite.server);
    const back = await listening(background);
    const slow = answer(`${front}/slow`);
    await dynalite.arrived;

    expect(await answer(`${back}/waited`)).toBe('answered /waited');

    dynalite.finishSlow();
    await slow;
  });
});

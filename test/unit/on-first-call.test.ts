import { describe, expect, it } from 'vitest';
import { firstPromoterOnFirstCall } from '#shared/composition/on-demand/firstpromoter';
import { clientOnFirstSend, onFirstCall } from '#shared/composition/on-demand/on-first-call';
import { referralRockOnFirstCall } from '#shared/composition/on-demand/referralrock';
import { ConfigError, parseConfig } from '#shared/config';
import { FirstPromoterSimulator } from '#test/simulators/firstpromoter';
import { ReferralRockSimulator } from '#test/simulators/referralrock';

interface Counter {
  add(n: number): Promise<number>;
  total(): Promise<number>;
}

/** A port with state behind `this`, and how often it was built. */
function counterLoader(options: { failFirst?: boolean } = {}) {
  const built = { count: 0 };
  let failures = options.failFirst ? 1 : 0;
  const load = async (): Promise<Counter> => {
    built.count++;
    await Promise.resolve();
    if (failures-- > 0) throw new Error('cold start of the client failed');
    return {
      sum: 0,
      async add(this: { sum: number }, n: number) {
        this.sum += n;
        return this.sum;
      },
      async total(this: { sum: number }) {
        return this.sum;
      },
    } as Counter & { sum: number };
  };
  return { built, load };
}

describe('onFirstCall', () => {
  it('builds nothing until a method is called, then builds once for every call, concurrent first calls included', async () => {
    const { built, load } = counterLoader();
    const counter = onFirstCall<Counter>({ add: true, total: true }, load);

    expect(Object.keys(counter).sort()).toEqual(['add', 'total']);
    expect(built.count).toBe(0);
    expect(await Promise.all([counter.add(1), counter.add(2), counter.total()])).toEqual([1, 3, 3]);
    expect(await counter.add(4)).toBe(7);
    expect(built.count).toBe(1);
  });

  it('builds again at the next call after a failed build, rather than failing every later call', async () => {
    const { built, load } = counterLoader({ failFirst: true });
    const counter = onFirstCall<Counter>({ add: true, total: true }, load);

    await expect(counter.add(1)).rejects.toThrow('cold start of the client failed');
    expect(await counter.add(2)).toBe(2);
    expect(built.count).toBe(2);
  });
});

describe('clientOnFirstSend', () => {
  it('creates the client at its first send only, once', async () => {
    let created = 0;
    const sent: string[] = [];
    // A client whose send reads its own state, as the SDK's does.
    class Client {
      readonly prefix = 'sent:';
      async send(command: string) {
        sent.push(command);
        return `${this.prefix}${command}`;
      }
    }
    const client = clientOnFirstSend(() => {
      created++;
      return new Client();
    });

    expect(created).toBe(0);
    expect(await client.send('a')).toBe('sent:a');
    expect(await client.send('b')).toBe('sent:b');
    expect(created).toBe(1);
    expect(sent).toEqual(['a', 'b']);
  });
});

describe('firstPromoterOnFirstCall', () => {
  it('refuses a configuration without the credentials when it is built (at cold start), not at the first call', () => {
    expect(() => firstPromoterOnFirstCall(parseConfig({}))).toThrow(ConfigError);
    expect(() => firstPromoterOnFirstCall(parseConfig({ FIRSTPROMOTER_API_KEY: 'demo-api-key' }))).toThrow(
      /FIRSTPROMOTER_ACCOUNT_ID/,
    );
  });

  it('sends nothing until its first call, then answers as the client does', async () => {
    const simulator = new FirstPromoterSimulator();
    const baseUrl = await simulator.start();
    try {
      const promoter = simulator.addPromoter({ email: 'jane@example.com' });
      const firstPromoter = firstPromoterOnFirstCall(
        parseConfig({
          FIRSTPROMOTER_BASE_URL: baseUrl,
          FIRSTPROMOTER_API_KEY: 'demo-api-key',
          FIRSTPROMOTER_ACCOUNT_ID: 'demo-account',
        }),
      );
      expect(simulator.harness.requests).toEqual([]);

      const found = await firstPromoter.findPromoters({ email: 'jane@example.com' });

      expect(found.map((p) => p.id)).toEqual([promoter.id]);
      expect(simulator.harness.requests.length).toBeGreaterThan(0);
    } finally {
      await simulator.stop();
    }
  });
});

describe('referralRockOnFirstCall', () => {
  it('refuses a configuration without the keys when it is built (at cold start), not at the first call', () => {
    expect(() => referralRockOnFirstCall(parseConfig({}))).toThrow(/REFERRALROCK_PUBLIC_KEY/);
    expect(() => referralRockOnFirstCall(parseConfig({ REFERRALROCK_PUBLIC_KEY: 'demo-public' }))).toThrow(
      /REFERRALROCK_PRIVATE_KEY/,
    );
  });

  it('sends nothing until its first call, then answers as the client does', async () => {
    const simulator = new ReferralRockSimulator();
    const baseUrl = await simulator.start(0);
    try {
      const member = simulator.addMember({ email: 'jane@example.com' });
      const referralRock = referralRockOnFirstCall(
        parseConfig({
          REFERRALROCK_BASE_URL: baseUrl,
          REFERRALROCK_PUBLIC_KEY: 'demo-public',
          REFERRALROCK_PRIVATE_KEY: 'demo-private',
        }),
      );
      expect(simulator.harness.requests).toEqual([]);

      const found = await referralRock.findMembers({ email: 'jane@example.com' });

      expect(found.map((m) => m.id)).toEqual([member.id]);
      expect(simulator.harness.requests.length).toBeGreaterThan(0);
    } finally {
      await simulator.stop();
    }
  });
});

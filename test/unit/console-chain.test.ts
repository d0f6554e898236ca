import canonicalize from 'canonicalize';
import { describe, expect, it } from 'vitest';
import {
  GENESIS_HASH,
  hashEvent,
  canonicalJson as serviceCanonicalJson,
  verifyTrail as serviceVerifyTrail,
} from '#shared/domain/chain';
import type { AuditEvent } from '#shared/domain/model';
import { chain, laneTrail, rehashed } from '#test/support/lane-trail';
import { canonicalJson, verifyTrail } from '../../functions/console/assets/chain.js';

/** The console's in-browser chain check must agree with the service's to the byte; Node's Web Crypto stands in. */

const REQUEST_ID = `er_${'ab'.repeat(16)}`;

function trail(): AuditEvent[] {
  const events: AuditEvent[] = [];
  const contents: Array<Pick<AuditEvent, 'type' | 'actor' | 'data'>> = [
    {
      type: 'request.received',
      actor: 'webhook:9c10eabc998d',
      data: { reference: 'DSR-1042', subject: { identifiers: ['email'] } },
    },
    {
      type: 'action.recorded',
      actor: 'workflow',
      data: { outcome: 'deleted', count: 7, batchId: 9002, ratio: 0.5, big: 1e21 },
    },
    {
      type: 'request.completed',
      actor: 'workflow',
      data: { status: 'completed', withinDeadline: true, note: 'ünïcode ☃ \u2028' },
    },
  ];
  for (const [index, content] of contents.entries()) {
    const base = {
      requestId: REQUEST_ID,
      seq: index + 1,
      at: new Date(Date.UTC(2026, 10, 21, 5, 20, index)).toISOString(),
      key: `k${index}`,
      prevHash: events.at(-1)?.hash ?? GENESIS_HASH,
      ...content,
    };
    events.push({ ...base, hash: hashEvent(base), expiresAt: 0 });
  }
  return events;
}

/** The auditor's view of a trail, as `GET /v1/erasure-requests/{id}` serves it. */
const viewOf = (events: AuditEvent[]) => ({
  id: REQUEST_ID,
  events: events.map(({ requestId: _r, expiresAt: _e, ...event }) => event),
});

describe("The console's chain check", () => {
  it.each([
    ['keys in UTF-16 code unit order, astral before high BMP', { '\uFB01': 1, '😀': 2, é: 3, z: 4, A: 5 }],
    ['numbers as ECMAScript prints them', [1e21, 1e-7, -0, 0.1 + 0.2, 10, -3.5]],
    ['strings with escapes', { s: 'quote " backslash \\ tab \t line sep \u2028 nul \u0000 é' }],
    ['nesting and literals', { b: [true, false, null, { y: [], x: {} }], a: 'x' }],
  ])('serializes %s exactly as the service and RFC 8785 (canonicalize) do', (_name, value) => {
    const browser = canonicalJson(value);

    expect(browser).toBe(serviceCanonicalJson(value));
    expect(browser).toBe(canonicalize(value));
  });

  it("verifies a trail the service hashed, ending at the service's head", async () => {
    const events = trail();

    const result = await verifyTrail(viewOf(events));

    expect(result).toMatchObject({ valid: true, events: 3, head: events[2]?.hash });
    expect(result.checks.every((check) => check.ok)).toBe(true);
  });

  it('finds the one event whose content changed after it was hashed', async () => {
    const view = viewOf(trail());
    (view.events[1] as { data: Record<string, unknown> }).data.count = 6;

    const result = await verifyTrail(view);

    expect(result).toMatchObject({ valid: false, brokenAt: 2, problem: 'hash' });
    expect(result.checks.map((check) => check.ok)).toEqual([true, false, true]);
  });

  it('finds a removed event (out of sequence) and a re-hashed event whose successor no longer links to it', async () => {
    const removed = viewOf(trail());
    removed.events.splice(1, 1);
    const rehashed = trail();
    const second = rehashed[1] as AuditEvent;
    second.data = { ...second.data, count: 6 };
    second.hash = hashEvent(second);

    expect(await verifyTrail(removed)).toMatchObject({ valid: false, brokenAt: 3, problem: 'sequence' });
    expect(await verifyTrail(viewOf(rehashed))).toMatchObject({ valid: false, brokenAt: 3, problem: 'link' });
  });

  it('takes an empty trail as nothing to verify, without a head', async () => {
    expect(await verifyTrail({ id: REQUEST_ID, events: [] })).toEqual({ valid: true, events: 0, checks: [] });
  });

  describe('with lanes', () => {
    const lane = 'firstpromoter.referrals';
    /** The view of a sealed trail with lanes, as the service serves it. */
    const laneView = () => {
      const { events, lanes } = laneTrail(REQUEST_ID);
      return {
        ...viewOf(events),
        lanes: Object.entries(lanes).map(([name, laneEvents]) => ({
          lane: name,
          chainId: `${REQUEST_ID}/lanes/${name}`,
          events: viewOf(laneEvents).events,
        })),
      };
    };
    const laneOf = (view: ReturnType<typeof laneView>) => view.lanes.find((l) => l.lane === lane)?.events ?? [];

    it('verifies every lane and its head against the seal, as the service does', async () => {
      const { events, lanes } = laneTrail(REQUEST_ID);

      const result = await verifyTrail(laneView());

      expect(result).toMatchObject({ valid: true, events: 6, head: events.at(-1)?.hash });
      expect(serviceVerifyTrail(events, lanes)).toEqual({ valid: true, events: 6 });
      expect(result.checks.filter((c) => c.lane === lane).map((c) => c.seq)).toEqual([1, 2]);
    });

    it('finds an edited lane event, and a lane event hashed under another chain id', async () => {
      const edited = laneView();
      (laneOf(edited)[0] as { data: Record<string, unknown> }).data.count = 6;
      const moved = laneView();
      const members = moved.lanes.find((l) => l.lane === 'referralrock.members');
      if (members) members.lane = 'referralrock.referrals';

      expect(await verifyTrail(edited)).toMatchObject({ valid: false, brokenAt: 1, brokenLane: lane, problem: 'hash' });
      expect(await verifyTrail(moved)).toMatchObject({ valid: false, brokenLane: 'referralrock.referrals' });
    });

    it('finds lane events reordered, deleted, or added after the seal', async () => {
      const reordered = laneView();
      laneOf(reordered).reverse();
      const cut = laneView();
      laneOf(cut).pop();
      const added = laneView();
      const tail = laneOf(added);
      const last = tail.at(-1) as AuditEvent;
      const late = rehashed({
        ...last,
        requestId: `${REQUEST_ID}/lanes/${lane}`,
        seq: 3,
        prevHash: last.hash,
        key: 'x',
      });
      tail.push(viewOf([late]).events[0] as (typeof tail)[number]);

      expect(await verifyTrail(reordered)).toMatchObject({ valid: false, brokenLane: lane, problem: 'sequence' });
      for (const tampered of [cut, added]) {
        expect(await verifyTrail(tampered)).toMatchObject({
          valid: false,
          brokenAt: 3,
          brokenLane: lane,
          problem: 'lane-head',
        });
      }
    });

    it("refuses an event linked after the seal in the request's chain, as the service does", async () => {
      const { events, lanes } = laneTrail(REQUEST_ID);
      const seal = events.at(-1) as AuditEvent;
      const late = rehashed({ ...seal, seq: 4, type: 'request.extended', key: 'late', prevHash: seal.hash, data: {} });
      const view = laneView();
      view.events.push(viewOf([late]).events[0] as (typeof view.events)[number]);

      expect(await verifyTrail(view)).toMatchObject({ valid: false, brokenAt: 4, problem: 'after-seal' });
      expect(serviceVerifyTrail([...events, late], lanes)).toMatchObject({ valid: false, brokenAt: 4 });
    });

    it('refuses a view that lists a lane twice, whichever listing comes first', async () => {
      // A second trail for the lane, self-consistent but not the one the seal commits to.
      const forged = viewOf(chain(`${REQUEST_ID}/lanes/${lane}`, [['action.recorded', { outcome: 'not_found' }]]));
      const forgedFirst = laneView();
      forgedFirst.lanes.unshift({ lane, chainId: `${REQUEST_ID}/lanes/${lane}`, events: forged.events });
      const forgedLast = laneView();
      forgedLast.lanes.push({ lane, chainId: `${REQUEST_ID}/lanes/${lane}`, events: forged.events });

      for (const twice of [forgedFirst, forgedLast]) {
        expect(await verifyTrail(twice)).toMatchObject({ valid: false, brokenLane: lane, problem: 'lane-twice' });
      }
    });
  });
});

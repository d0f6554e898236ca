import { describe, expect, it } from 'vitest';
import { canonicalJson, GENESIS_HASH, hashEvent, laneChainId, verifyChain, verifyTrail } from '#shared/domain/chain';
import type { AuditEvent } from '#shared/domain/model';
import { chain, laneTrail, rehashed } from '#test/support/lane-trail';

const REQUEST_ID = 'er_0123456789abcdef0123456789abcdef';

/** A hand-built chain: each event hashed with hashEvent and linked to the previous one's hash. */
function buildChain(types: string[]): AuditEvent[] {
  const events: AuditEvent[] = [];
  let prevHash = GENESIS_HASH;
  for (const [index, type] of types.entries()) {
    const seq = index + 1;
    const unsigned = {
      requestId: REQUEST_ID,
      seq,
      type,
      at: `2026-03-01T12:00:0${seq}.000Z`,
      actor: seq === 1 ? 'webhook:0123456789ab' : 'workflow',
      data: { step: seq, items: [seq, { b: 2, a: 1 }] },
      key: `${type}:${seq}`,
      prevHash,
    };
    const hash = hashEvent(unsigned);
    events.push({ ...unsigned, hash, expiresAt: 1_900_000_000 });
    prevHash = hash;
  }
  return events;
}

/** Rehashes one event as a tamperer who knows the algorithm would. */
const rehash = (event: AuditEvent): AuditEvent => ({ ...event, hash: hashEvent(event) });

describe('canonicalJson', () => {
  it('does not depend on key order, at any depth', () => {
    const one = { b: 1, a: { d: [{ y: 1, x: 2 }], c: null } };
    const other = { a: { c: null, d: [{ x: 2, y: 1 }] }, b: 1 };

    expect(canonicalJson(one)).toBe(canonicalJson(other));
    expect(canonicalJson(one)).toBe('{"a":{"c":null,"d":[{"x":2,"y":1}]},"b":1}');
  });

  it('keeps array order, including nested arrays', () => {
    expect(canonicalJson({ a: [[1, 2], [3]] })).toBe('{"a":[[1,2],[3]]}');
    expect(canonicalJson([[1, 2], [3]])).not.toBe(canonicalJson([[2, 1], [3]]));
  });

  it('omits undefined properties and escapes strings as JSON does', () => {
    expect(canonicalJson({ z: undefined, q: 'say "hi"\n', n: 1.5, t: true })).toBe(
      '{"n":1.5,"q":"say \\"hi\\"\\n","t":true}',
    );
  });
});

describe('hashEvent', () => {
  it('does not depend on the key order of the data', () => {
    const [event] = buildChain(['received']) as [AuditEvent];

    expect(hashEvent({ ...event, data: { items: event.data.items, step: 1 } })).toBe(
      hashEvent({ ...event, data: { step: 1, items: event.data.items } }),
    );
  });

  it('covers the previous hash', () => {
    const [event] = buildChain(['received']) as [AuditEvent];

    expect(hashEvent({ ...event, prevHash: 'f'.repeat(64) })).not.toBe(event.hash);
  });
});

describe('verifyChain', () => {
  it('accepts an unbroken chain', () => {
    const events = buildChain(['received', 'waiting', 'completed']);

    expect(verifyChain(events)).toEqual({ valid: true, events: 3 });
  });

  it('accepts an empty chain', () => {
    expect(verifyChain([])).toEqual({ valid: true, events: 0 });
  });

  it('ignores the TTL, which is not hashed', () => {
    const events = buildChain(['received', 'waiting', 'completed']).map((e) => ({ ...e, expiresAt: 1 }));

    expect(verifyChain(events).valid).toBe(true);
  });

  it('breaks at the event whose data was altered', () => {
    const [first, second, third] = buildChain(['received', 'waiting', 'completed']) as [
      AuditEvent,
      AuditEvent,
      AuditEvent,
    ];

    const result = verifyChain([first, { ...second, data: { ...second.data, step: 99 } }, third]);

    expect(result).toEqual({ valid: false, events: 3, brokenAt: 2 });
  });

  it('breaks at the next event when an altered event was rehashed', () => {
    const [first, second, third] = buildChain(['received', 'waiting', 'completed']) as [
      AuditEvent,
      AuditEvent,
      AuditEvent,
    ];

    const result = verifyChain([first, rehash({ ...second, actor: 'auditor:ffffffffffff' }), third]);

    expect(result).toEqual({ valid: false, events: 3, brokenAt: 3 });
  });

  it('breaks at the first event out of order', () => {
    const [first, second, third] = buildChain(['received', 'waiting', 'completed']) as [
      AuditEvent,
      AuditEvent,
      AuditEvent,
    ];

    expect(verifyChain([first, third, second]).brokenAt).toBe(3);
    expect(verifyChain([second, first, third]).brokenAt).toBe(2);
  });

  it('breaks where the middle event was deleted', () => {
    const [first, , third] = buildChain(['received', 'waiting', 'completed']) as [AuditEvent, AuditEvent, AuditEvent];

    expect(verifyChain([first, third])).toEqual({ valid: false, events: 2, brokenAt: 3 });
  });

  it('breaks where the middle event was deleted even if the next is renumbered and rehashed', () => {
    const [first, , third] = buildChain(['received', 'waiting', 'completed']) as [AuditEvent, AuditEvent, AuditEvent];

    expect(verifyChain([first, rehash({ ...third, seq: 2 })])).toEqual({ valid: false, events: 2, brokenAt: 2 });
  });

  it('breaks at the event whose prevHash was changed', () => {
    const [first, second, third] = buildChain(['received', 'waiting', 'completed']) as [
      AuditEvent,
      AuditEvent,
      AuditEvent,
    ];

    const result = verifyChain([first, second, { ...third, prevHash: first.hash }]);

    expect(result).toEqual({ valid: false, events: 3, brokenAt: 3 });
  });

  it('breaks at the first event when it does not start from the genesis hash', () => {
    const [first, second] = buildChain(['received', 'waiting']) as [AuditEvent, AuditEvent];

    expect(verifyChain([rehash({ ...first, prevHash: 'a'.repeat(64) }), second]).brokenAt).toBe(1);
  });
});

describe('verifyTrail: the request chain and its lanes', () => {
  const lane = 'firstpromoter.referrals';

  it('accepts a sealed trail whose lanes end where the seal says, counting every event', () => {
    const { events, lanes } = laneTrail(REQUEST_ID);

    expect(verifyTrail(events, lanes)).toEqual({ valid: true, events: 6 });
  });

  it('finds an edited lane event, even re-hashed (its successor no longer links to it)', () => {
    const edited = laneTrail(REQUEST_ID);
    ((edited.lanes[lane] as AuditEvent[])[0] as AuditEvent).data.count = 6;
    const rehashedTrail = laneTrail(REQUEST_ID);
    const first = rehashedTrail.lanes[lane] as AuditEvent[];
    first[0] = rehashed({ ...(first[0] as AuditEvent), data: { outcome: 'not_found', count: 0 } });

    expect(verifyTrail(edited.events, edited.lanes)).toEqual({
      valid: false,
      events: 6,
      brokenAt: 1,
      brokenLane: lane,
    });
    expect(verifyTrail(rehashedTrail.events, rehashedTrail.lanes)).toMatchObject({ brokenAt: 2, brokenLane: lane });
  });

  it('finds lane events reordered or deleted in the middle', () => {
    const reordered = laneTrail(REQUEST_ID);
    reordered.lanes[lane]?.reverse();
    const deleted = laneTrail(REQUEST_ID);
    deleted.lanes[lane]?.splice(0, 1);

    expect(verifyTrail(reordered.events, reordered.lanes)).toMatchObject({ valid: false, brokenLane: lane });
    expect(verifyTrail(deleted.events, deleted.lanes)).toMatchObject({ valid: false, brokenLane: lane, brokenAt: 2 });
  });

  it('finds a lane cut short, a lane removed, and an event inserted after the seal: the seal commits to each head', () => {
    const cut = laneTrail(REQUEST_ID);
    cut.lanes[lane]?.pop();
    const removed = laneTrail(REQUEST_ID);
    delete removed.lanes[lane];
    const appended = laneTrail(REQUEST_ID);
    const tail = appended.lanes[lane] as AuditEvent[];
    tail.push(
      rehashed({ ...(tail[1] as AuditEvent), seq: 3, key: 'late', prevHash: (tail[1] as AuditEvent).hash, data: {} }),
    );
    const extra = laneTrail(REQUEST_ID);
    extra.lanes['referralrock.referrals'] = chain(laneChainId(REQUEST_ID, 'referralrock.referrals'), [
      ['action.recorded', { outcome: 'deleted' }],
    ]);

    for (const tampered of [cut, removed, appended]) {
      expect(verifyTrail(tampered.events, tampered.lanes)).toMatchObject({
        valid: false,
        brokenAt: 3,
        brokenLane: lane,
        problem: 'lane-head',
      });
    }
    expect(verifyTrail(extra.events, extra.lanes)).toMatchObject({
      valid: false,
      brokenLane: 'referralrock.referrals',
      problem: 'lane-head',
    });
  });

  it("finds an event linked after the seal in the request's chain: a put, no rewrite, so only the seal can show it", () => {
    const { events, lanes } = laneTrail(REQUEST_ID);
    const seal = events.at(-1) as AuditEvent;
    events.push(rehashed({ ...seal, seq: 4, type: 'request.extended', key: 'late', prevHash: seal.hash, data: {} }));

    expect(verifyTrail(events, lanes)).toEqual({ valid: false, events: 7, brokenAt: 4, problem: 'after-seal' });
  });

  it("finds a lane event moved into another lane or into the request's chain (each is hashed with its chain id)", () => {
    const moved = laneTrail(REQUEST_ID);
    const event = moved.lanes['referralrock.members']?.[0] as AuditEvent;
    moved.lanes['referralrock.members'] = [{ ...event, requestId: laneChainId(REQUEST_ID, 'referralrock.referrals') }];

    expect(verifyTrail(moved.events, moved.lanes)).toMatchObject({ valid: false, brokenLane: 'referralrock.members' });
  });

  it('checks each lane of a trail not sealed yet on its own (nothing commits to their heads before the seal)', () => {
    const { events, lanes } = laneTrail(REQUEST_ID);
    const open = events.slice(0, 2);
    lanes[lane]?.pop();

    expect(verifyTrail(open, lanes)).toEqual({ valid: true, events: 4 });
  });
});

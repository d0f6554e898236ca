import { describe, expect, it } from 'vitest';
import {
  appendToFrontier,
  consistencyProof,
  EMPTY_ROOT,
  frontierOf,
  frontierRoot,
  inclusionProof,
  leafHash,
  memoryReader,
  newestLeafProof,
  nodeHash,
  rootHash,
  type SubtreeReader,
  subtreesCompletedBy,
  verifyConsistency,
  verifyInclusion,
} from '#shared/evidence/merkle';

/**
 * RFC 9162 §2.1 against the Certificate Transparency test vectors (transparency-dev/merkle `testonly/constants.go`,
 * `proof/verify_test.go`, `compact/range_test.go`: the same leaves and hashes the RFC 6962 reference implementation
 * pins), and every proof for every pair of sizes up to 20 checked by the RFC's own verification algorithms.
 */

const hex = (h: string) => Buffer.from(h, 'hex');
const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(
  hex,
);
const ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const INCLUSION: Array<[number, number, string[]]> = [
  [0, 1, []],
  [0, 2, ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7']],
  [1, 2, ['6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d']],
  [2, 3, ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125']],
  [
    1,
    5,
    [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  ],
  [
    0,
    8,
    [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  ],
  [
    5,
    8,
    [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  ],
];
const CONSISTENCY: Array<[number, number, string[]]> = [
  [1, 1, []],
  [
    1,
    8,
    [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  ],
  [
    6,
    8,
    [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  ],
  [
    2,
    5,
    [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  ],
];

const ctReader = memoryReader(LEAVES.map(leafHash));
const toHex = (hashes: Buffer[]) => hashes.map((h) => h.toString('hex'));

/** Leaf i of compact/range_test.go's golden trees: two bytes, little-endian i. */
const goldenReader = (size: number) =>
  memoryReader(Array.from({ length: size }, (_, i) => leafHash(Buffer.of(i & 0xff, (i >> 8) & 0xff))));

describe('RFC 9162 hashing', () => {
  it('hashes leaves and nodes with their domain-separating prefixes', () => {
    expect(EMPTY_ROOT.toString('hex')).toBe(ROOTS[0]);
    expect(leafHash(Buffer.from('L123456')).toString('hex')).toBe(
      '395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56',
    );
    expect(nodeHash(Buffer.from('N123'), Buffer.from('N456')).toString('hex')).toBe(
      'aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb',
    );
  });

  it.each(ROOTS.map((root, size) => [size, root] as const))(
    'roots the first %i test leaves at the vector',
    async (size, root) => {
      expect((await rootHash(ctReader, size)).toString('hex')).toBe(root);
    },
  );

  it.each([
    [10, 'VjWMPSYNtCuCNlF/RLnQy6HcwSk6CIipfxm+hettA+4='],
    [15, 'j4SulYmocFuxdeyp12xXCIgK6PekBcxzAIj4zbQzNEI='],
    [16, 'c+4Uc6BCMOZf/v3NZK1kqTUJe+bBoFtOhP+P3SayKRE='],
    [100, 'dUh9hYH88p0CMoHkdr1wC2szbhcLAXOejWpINIooKUY='],
    [255, 'SmdsuKUqiod3RX2jyF2M6JnbdE4QuTwwipfAowI4/i0='],
  ])('roots a golden tree of %i leaves at the vector', async (size, root) => {
    expect((await rootHash(goldenReader(size), size)).toString('base64')).toBe(root);
  });
});

describe('inclusion proofs (RFC 9162 §2.1.3)', () => {
  it.each(INCLUSION)('leaf %i of %i: the vector, and it verifies', async (index, size, expected) => {
    const proof = await inclusionProof(ctReader, index, size);
    expect(toHex(proof)).toEqual(expected);
    expect(verifyInclusion(leafHash(LEAVES[index] as Buffer), index, size, proof, hex(ROOTS[size] as string))).toBe(
      true,
    );
  });

  it('fails for a wrong index, size, leaf, root, or a proof changed in any way', async () => {
    const index = 5;
    const size = 8;
    const proof = await inclusionProof(ctReader, index, size);
    const leaf = leafHash(LEAVES[index] as Buffer);
    const root = hex(ROOTS[size] as string);
    const flipped = proof.map((_, i) =>
      proof.map((p, j) => (i === j ? Buffer.from(p.map((b, k) => (k === 0 ? b ^ 8 : b))) : p)),
    );
    const wrong: Array<[Buffer, number, number, Buffer[], Buffer]> = [
      [leaf, index - 1, size, proof, root],
      [leaf, index + 1, size, proof, root],
      [leaf, index ^ 2, size, proof, root],
      [leaf, index, size * 2, proof, root],
      [leaf, index, size / 2, proof, root],
      [leafHash(Buffer.from('WrongLeaf')), index, size, proof, root],
      [leaf, index, size, proof, EMPTY_ROOT],
      [leaf, index, size, [...proof, root], root],
      [leaf, index, size, [root, ...proof], root],
      [leaf, index, size, proof.slice(0, -1), root],
      ...flipped.map((p): [Buffer, number, number, Buffer[], Buffer] => [leaf, index, size, p, root]),
    ];
    for (const [l, i, s, p, r] of wrong) expect(verifyInclusion(l, i, s, p, r)).toBe(false);
  });
});

describe('consistency proofs (RFC 9162 §2.1.4)', () => {
  it.each(CONSISTENCY)('from %i to %i: the vector, and it verifies', async (from, to, expected) => {
    const proof = await consistencyProof(ctReader, from, to);
    expect(toHex(proof)).toEqual(expected);
    expect(verifyConsistency(from, to, hex(ROOTS[from] as string), hex(ROOTS[to] as string), proof)).toBe(true);
  });

  it('proves every pair of sizes up to 20, every leaf in each, and refuses a rewritten history', async () => {
    const leaves = Array.from({ length: 20 }, (_, i) => leafHash(Buffer.from(`receipt ${i}`)));
    const read = memoryReader(leaves);
    // The same log with leaf 3 rewritten: its roots from size 4 on differ.
    const rewritten = memoryReader(leaves.map((l, i) => (i === 3 ? leafHash(Buffer.from('forged')) : l)));
    for (let to = 1; to <= 20; to++) {
      const toRoot = await rootHash(read, to);
      for (let index = 0; index < to; index++) {
        expect(verifyInclusion(leaves[index] as Buffer, index, to, await inclusionProof(read, index, to), toRoot)).toBe(
          true,
        );
      }
      for (let from = 1; from <= to; from++) {
        const fromRoot = await rootHash(read, from);
        const proof = await consistencyProof(read, from, to);
        expect(verifyConsistency(from, to, fromRoot, toRoot, proof)).toBe(true);
        if (from >= 4 && from < to) {
          const forged = await consistencyProof(rewritten, from, to);
          expect(verifyConsistency(from, to, fromRoot, await rootHash(rewritten, to), forged)).toBe(false);
        }
      }
    }
  });

  it('refuses an empty proof between different sizes and a proof with anything changed', async () => {
    const proof = await consistencyProof(ctReader, 6, 8);
    const [r6, r8] = [hex(ROOTS[6] as string), hex(ROOTS[8] as string)];
    expect(verifyConsistency(6, 8, r6, r8, [])).toBe(false);
    expect(verifyConsistency(6, 8, r8, r8, proof)).toBe(false);
    expect(verifyConsistency(6, 8, r6, r6, proof)).toBe(false);
    expect(verifyConsistency(5, 8, r6, r8, proof)).toBe(false);
    expect(verifyConsistency(6, 8, r6, r8, proof.slice(1))).toBe(false);
    expect(verifyConsistency(6, 8, r6, r8, [...proof, r8])).toBe(false);
    expect(verifyConsistency(8, 6, r8, r6, proof)).toBe(false);
  });
});

describe('appending', () => {
  it('stores, for each new leaf, exactly the perfect subtrees it completes, from which every root follows', async () => {
    const nodes = new Map<string, Buffer>();
    const read: SubtreeReader = async (level, index) => {
      const hash = nodes.get(`${level}/${index}`);
      if (!hash) throw new Error(`missing ${level}/${index}`);
      return hash;
    };
    for (const [index, leaf] of LEAVES.entries()) {
      const completed = await subtreesCompletedBy(read, index, leafHash(leaf));
      for (const node of completed) nodes.set(`${node.level}/${node.index}`, node.hash);
      expect((await rootHash(read, index + 1)).toString('hex')).toBe(ROOTS[index + 1]);
    }
    expect([...nodes.keys()].filter((k) => !k.startsWith('0/'))).toEqual([
      '1/0',
      '1/1',
      '2/0',
      '1/2',
      '1/3',
      '2/1',
      '3/0',
    ]);
  });
});

describe('the frontier (O(1) appends)', () => {
  it('gives the root, the next append and the newest leaf proof of every size up to 40, as the stored tree does', async () => {
    const leaves = Array.from({ length: 40 }, (_, i) => leafHash(Buffer.from([i])));
    const read = memoryReader(leaves);
    let frontier: Buffer[] = [];
    for (let size = 0; size < leaves.length; size++) {
      expect(frontier).toEqual(await frontierOf(read, size));
      expect(frontierRoot(frontier)).toEqual(await rootHash(read, size));
      const leaf = leaves[size] as Buffer;
      const appended = appendToFrontier(frontier, size, leaf);
      expect(appended.completed).toEqual(await subtreesCompletedBy(read, size, leaf));
      expect(newestLeafProof(frontier)).toEqual(await inclusionProof(read, size, size + 1));
      frontier = appended.frontier;
    }
  });

  it('matches the Certificate Transparency roots', () => {
    let frontier: Buffer[] = [];
    LEAVES.forEach((leaf, size) => {
      frontier = appendToFrontier(frontier, size, leafHash(leaf)).frontier;
      expect(frontierRoot(frontier).toString('hex')).toBe(ROOTS[size + 1]);
    });
  });
});

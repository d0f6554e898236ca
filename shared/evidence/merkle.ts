import { createHash } from 'node:crypto';

/**
 * The Merkle tree of the transparency log, as RFC 9162 (Certificate Transparency v2) §2.1 defines it: SHA-256, leaves
 * hashed as `SHA-256(0x00 || leaf)`, interior nodes as `SHA-256(0x01 || left || right)`, a tree of n leaves split at the
 * largest power of two smaller than n. Inclusion proofs follow §2.1.3 and consistency proofs §2.1.4, both generated
 * and verified here. Pure: the hashes of the tree's perfect subtrees come from a {@link SubtreeReader}, so a store
 * keeps only those (each written once, when its last leaf arrives) and any root or proof needs O(log n) of them.
 */

const sha256 = (...parts: Uint8Array[]): Buffer => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
};

/** MTH({}) = SHA-256 of the empty string: the root of the empty tree. */
export const EMPTY_ROOT: Buffer = sha256();

/** RFC 9162 §2.1.1: MTH({d}) = SHA-256(0x00 || d). */
export const leafHash = (leaf: Uint8Array): Buffer => sha256(Buffer.of(0), leaf);

/** RFC 9162 §2.1.1: the hash of an interior node, SHA-256(0x01 || left || right). */
export const nodeHash = (left: Uint8Array, right: Uint8Array): Buffer => sha256(Buffer.of(1), left, right);

/**
 * The hash of the perfect subtree at `level` and `index`: the one over leaves `[index·2^level, (index+1)·2^level)`
 * (level 0: the leaf hashes). Only subtrees the tree already completed are asked for.
 */
export type SubtreeReader = (level: number, index: number) => Promise<Buffer>;

/** The largest power of two smaller than `n` (n ≥ 2): where RFC 9162 splits a tree of n leaves. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

const isPowerOfTwo = (n: number) => n > 0 && Number.isInteger(Math.log2(n));

/** MTH(D[start:end]) from the stored perfect subtrees. */
export async function subtreeHash(read: SubtreeReader, start: number, end: number): Promise<Buffer> {
  const n = end - start;
  if (n === 0) return EMPTY_ROOT;
  if (isPowerOfTwo(n) && start % n === 0) return read(Math.log2(n), start / n);
  const k = splitPoint(n);
  return nodeHash(await subtreeHash(read, start, start + k), await subtreeHash(read, start + k, end));
}

/** The root hash of the tree's first `size` leaves. */
export const rootHash = (read: SubtreeReader, size: number): Promise<Buffer> => subtreeHash(read, 0, size);

const checkSize = (value: number, name: string) => {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer`);
};

/**
 * RFC 9162 §2.1.3.1: the inclusion proof (audit path) of leaf `index` in the tree of `size` leaves.
 * @throws RangeError when index ≥ size
 */
export async function inclusionProof(read: SubtreeReader, index: number, size: number): Promise<Buffer[]> {
  checkSize(index, 'index');
  checkSize(size, 'size');
  if (index >= size) throw new RangeError('index must be smaller than the tree size');
  const path = async (m: number, start: number, end: number): Promise<Buffer[]> => {
    const n = end - start;
    if (n <= 1) return [];
    const k = splitPoint(n);
    return m < k
      ? [...(await path(m, start, start + k)), await subtreeHash(read, start + k, end)]
      : [...(await path(m - k, start + k, end)), await subtreeHash(read, start, start + k)];
  };
  return path(index, 0, size);
}

/**
 * RFC 9162 §2.1.4.1: the consistency proof between the trees of `from` and `to` leaves (empty when from is 0 or
 * equals to: nothing to prove).
 * @throws RangeError when from > to
 */
export async function consistencyProof(read: SubtreeReader, from: number, to: number): Promise<Buffer[]> {
  checkSize(from, 'from');
  checkSize(to, 'to');
  if (from > to) throw new RangeError('from must not exceed to');
  if (from === 0 || from === to) return [];
  const subproof = async (m: number, start: number, end: number, whole: boolean): Promise<Buffer[]> => {
    const n = end - start;
    if (m === n) return whole ? [] : [await subtreeHash(read, start, end)];
    const k = splitPoint(n);
    return m <= k
      ? [...(await subproof(m, start, start + k, whole)), await subtreeHash(read, start + k, end)]
      : [...(await subproof(m - k, start + k, end, false)), await subtreeHash(read, start, start + k)];
  };
  return subproof(from, 0, to, true);
}

/**
 * RFC 9162 §2.1.3.2: whether `proof` shows the leaf with hash `leaf` at `index` in the tree of `size` leaves whose
 * root is `root`.
 */
export function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
  let fn = BigInt(index);
  let sn = BigInt(size - 1);
  let r: Uint8Array = leaf;
  for (const p of proof) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      r = nodeHash(p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && equal(r, root);
}

/**
 * RFC 9162 §2.1.4.2: whether `proof` shows that the tree of `from` leaves with root `fromRoot` is a prefix of the
 * tree of `to` leaves with root `toRoot`: nothing in it was changed or removed, only leaves appended.
 */
export function verifyConsistency(
  from: number,
  to: number,
  fromRoot: Uint8Array,
  toRoot: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || from > to) return false;
  if (from === to) return proof.length === 0 && equal(fromRoot, toRoot);
  if (from === 0) return proof.length === 0 && equal(fromRoot, EMPTY_ROOT);
  if (proof.length === 0) return false;
  const path = isPowerOfTwo(from) ? [fromRoot, ...proof] : [...proof];
  let fn = BigInt(from - 1);
  let sn = BigInt(to - 1);
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = path[0] as Uint8Array;
  let sr = path[0] as Uint8Array;
  for (const c of path.slice(1)) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return equal(fr, fromRoot) && equal(sr, toRoot) && sn === 0n;
}

/**
 * The perfect subtrees that leaf `index` completes, bottom up: the leaf itself (level 0), then each subtree whose last
 * leaf it is, hashed from its left half (already stored) and its right half (just computed). What a store writes when
 * it appends that leaf.
 */
export async function subtreesCompletedBy(
  read: SubtreeReader,
  index: number,
  hash: Buffer,
): Promise<Array<{ level: number; index: number; hash: Buffer }>> {
  const completed = [{ level: 0, index, hash }];
  let current = hash;
  for (let level = 1; (index + 1) % 2 ** level === 0; level++) {
    const at = (index + 1) / 2 ** level - 1;
    current = nodeHash(await read(level - 1, 2 * at), current);
    completed.push({ level, index: at, hash: current });
  }
  return completed;
}

/**
 * The tree's frontier: the roots of its perfect subtrees, the largest (leftmost) first, one per bit set in `size`
 * (RFC 9162 §2.1's split, applied until every part is perfect). From it alone come the root, the next append and the
 * inclusion proof of the newest leaf, so a store that keeps it with the size appends in O(1) reads.
 */
export async function frontierOf(read: SubtreeReader, size: number): Promise<Buffer[]> {
  const frontier: Buffer[] = [];
  let start = 0;
  for (let level = Math.floor(Math.log2(Math.max(size, 1))); level >= 0 && start < size; level--) {
    const width = 2 ** level;
    if (start + width > size) continue;
    frontier.push(await read(level, start / width));
    start += width;
  }
  return frontier;
}

/** The root of the tree whose frontier this is: each subtree hashed onto the root of those right of it. */
export function frontierRoot(frontier: readonly Buffer[]): Buffer {
  let root = frontier.at(-1);
  if (!root) return EMPTY_ROOT;
  for (let i = frontier.length - 2; i >= 0; i--) root = nodeHash(frontier[i] as Buffer, root);
  return root;
}

/**
 * Appends leaf hash `leaf` as leaf `size` of the tree with frontier `frontier`: the new frontier, and the perfect
 * subtrees the leaf completes (as {@link subtreesCompletedBy} gives them), which a store writes for later proofs.
 */
export function appendToFrontier(
  frontier: readonly Buffer[],
  size: number,
  leaf: Buffer,
): { frontier: Buffer[]; completed: Array<{ level: number; index: number; hash: Buffer }> } {
  const next = [...frontier];
  const completed = [{ level: 0, index: size, hash: leaf }];
  let current = leaf;
  for (let level = 1; (size + 1) % 2 ** level === 0; level++) {
    current = nodeHash(next.pop() as Buffer, current);
    completed.push({ level, index: (size + 1) / 2 ** level - 1, hash: current });
  }
  next.push(current);
  return { frontier: next, completed };
}

/**
 * RFC 9162 §2.1.3.1's inclusion proof of the newest leaf (index `size`) in the tree of `size + 1` leaves, from the
 * frontier of the `size` leaves before it: its siblings on the path to the root are exactly those subtrees, nearest
 * first.
 */
export const newestLeafProof = (frontierBefore: readonly Buffer[]): Buffer[] => [...frontierBefore].reverse();

/** A reader over leaf hashes held in memory (tests, and the offline verifier's own checks). */
export function memoryReader(leafHashes: readonly Buffer[]): SubtreeReader {
  const cache = new Map<string, Buffer>();
  const read: SubtreeReader = async (level, index) => {
    if (level === 0) {
      const leaf = leafHashes[index];
      if (!leaf) throw new RangeError(`No leaf ${index}`);
      return leaf;
    }
    const key = `${level}/${index}`;
    const known = cache.get(key);
    if (known) return known;
    const hash = nodeHash(await read(level - 1, 2 * index), await read(level - 1, 2 * index + 1));
    cache.set(key, hash);
    return hash;
  };
  return read;
}

const equal = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(a, b) === 0;

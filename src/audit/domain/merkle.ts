import { hash } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * The seals' Merkle tree over transaction hashes (hex). A parent is sha256 of its two children's
 * bytes; an odd node out is paired with itself. A proof lists, from the leaf up, each sibling
 * and which side it stands on. Written to be re-implemented in a few lines by any auditor
 * (scripts/verify-proof.js does it without this code).
 */
export const GENESIS_HASH = '0'.repeat(64);

export interface ProofStep {
  hash: string;
  position: 'left' | 'right';
}

/**
 * Parent hashes the asynchronous root takes between two turns of the event loop: about a
 * millisecond's work. A seal of 20,000 transactions is 20,000 hashes, 50-90 ms of one thread in
 * one piece; the nightly check of the chain hashes every seal's tree again.
 */
export const HASHES_PER_TURN = 1000;

/** A hash's hex: 64 characters (of [0-9a-f]). */
const HEX_LEAVES = /^(?:[0-9a-f]{64})*$/;

export function sha256Hex(data: Buffer | string): string {
  return hash('sha256', data, 'hex');
}

function parent(left: string, right: string): string {
  return sha256Hex(Buffer.concat([Buffer.from(left, 'hex'), Buffer.from(right, 'hex')]));
}

/**
 * The root over the leaves' bytes (32 a leaf, `n` of them), one level at a time, one buffer a
 * level and 32 bytes a node (millions of leaves without a string per node); yields after every
 * HASHES_PER_TURN hashes, so that a caller may give the event loop a turn.
 */
function* rootOf(leaves: Buffer, n: number): Generator<void, string> {
  if (n === 0) return sha256Hex('');
  let level = leaves;
  const pair = Buffer.alloc(64);
  let hashed = 0;
  while (n > 1) {
    const m = Math.ceil(n / 2);
    const next = Buffer.allocUnsafe(m * 32);
    for (let i = 0; i < m; i++) {
      const left = 2 * i * 32;
      let input: Buffer;
      if (2 * i + 1 < n) input = level.subarray(left, left + 64);
      else {
        level.copy(pair, 0, left, left + 32);
        level.copy(pair, 32, left, left + 32);
        input = pair;
      }
      hash('sha256', input, 'buffer').copy(next, i * 32);
      if (++hashed % HASHES_PER_TURN === 0) yield;
    }
    level = next;
    n = m;
  }
  return level.subarray(0, 32).toString('hex');
}

export function merkleRoot(leaves: string[]): string {
  const steps = rootOf(Buffer.from(leaves.join(''), 'hex'), leaves.length);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * The same root, of leaves given end to end as one hex string (as a seal's window and its
 * entries are read), computed a slice at a time with a turn of the event loop between slices:
 * requests keep being served while a seal is made or the chain is checked. Null when the string
 * is not whole leaves of lowercase hex.
 */
export async function merkleRootOfHex(leaves: string): Promise<string | null> {
  if (!HEX_LEAVES.test(leaves)) return null;
  const steps = rootOf(Buffer.from(leaves, 'hex'), leaves.length / 64);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await nextTurn();
  }
}

export function merkleProof(leaves: string[], index: number): ProofStep[] {
  const steps: ProofStep[] = [];
  let level = leaves;
  let i = index;
  while (level.length > 1) {
    const sibling = i % 2 === 0 ? (level[i + 1] ?? level[i]) : level[i - 1];
    steps.push({ hash: sibling, position: i % 2 === 0 ? 'right' : 'left' });
    const next: string[] = [];
    for (let j = 0; j < level.length; j += 2) next.push(parent(level[j], level[j + 1] ?? level[j]));
    level = next;
    i = Math.floor(i / 2);
  }
  return steps;
}

export function rootFromProof(leaf: string, proof: ProofStep[]): string {
  return proof.reduce((node, step) => (step.position === 'left' ? parent(step.hash, node) : parent(node, step.hash)), leaf);
}

/** A seal's own hash: its window, its size and root, chained to the previous seal's hash. */
export function sealHash(seal: {
  previousHash: string;
  merkleRoot: string;
  coversFrom: Date;
  coversTo: Date;
  transactions: number;
}): string {
  return sha256Hex(
    `${seal.previousHash}|${seal.merkleRoot}|${seal.coversFrom.toISOString()}|${seal.coversTo.toISOString()}|${seal.transactions}`,
  );
}

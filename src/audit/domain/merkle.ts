import { createHash } from 'node:crypto';

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

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function parent(left: string, right: string): string {
  return sha256Hex(Buffer.concat([Buffer.from(left, 'hex'), Buffer.from(right, 'hex')]));
}

export function merkleRoot(leaves: string[]): string {
  if (leaves.length === 0) return sha256Hex('');
  // one buffer a level, 32 bytes a node: millions of leaves (the nightly check) without a string per node
  let n = leaves.length;
  let level = Buffer.from(leaves.join(''), 'hex');
  const pair = Buffer.alloc(64);
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
      createHash('sha256')
        .update(input)
        .digest()
        .copy(next, i * 32);
    }
    level = next;
    n = m;
  }
  return level.subarray(0, 32).toString('hex');
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

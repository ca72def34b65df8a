import { merkleProof, merkleRoot, rootFromProof, sha256Hex } from './merkle';

describe('the seals’ Merkle tree', () => {
  const leaves = (n: number) => Array.from({ length: n }, (_, i) => sha256Hex(`tx${i}`));

  it('every leaf of trees of every size proves its way to the root', () => {
    for (const n of [1, 2, 3, 4, 5, 7, 8, 9, 16, 33]) {
      const l = leaves(n);
      const root = merkleRoot(l);
      l.forEach((leaf, i) => expect(rootFromProof(leaf, merkleProof(l, i))).toBe(root));
    }
  });

  it('a changed leaf, a wrong position or a swapped order no longer proves', () => {
    const l = leaves(6);
    const root = merkleRoot(l);
    const proof = merkleProof(l, 2);
    expect(rootFromProof(sha256Hex('forged'), proof)).not.toBe(root);
    expect(
      rootFromProof(
        l[2],
        proof.map((s) => ({ ...s, position: s.position === 'left' ? 'right' : 'left' })),
      ),
    ).not.toBe(root);
    expect(merkleRoot([l[1], l[0], ...l.slice(2)])).not.toBe(root);
  });
});

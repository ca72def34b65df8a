import { HASHES_PER_TURN, merkleProof, merkleRoot, merkleRootOfHex, rootFromProof, sha256Hex } from './merkle';

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

  it('the root of leaves given end to end as hex is the same root, for trees of every size', async () => {
    for (const n of [0, 1, 2, 3, 5, 8, 33, 2 * HASHES_PER_TURN + 3]) {
      const l = leaves(n);
      expect(await merkleRootOfHex(l.join(''))).toBe(merkleRoot(l));
    }
    expect(merkleRoot([])).toBe(sha256Hex(''));
  });

  it('a string that is not whole lowercase hex leaves has no root', async () => {
    const l = leaves(3).join('');
    for (const broken of [l.slice(0, -1), `${l}0`, l.toUpperCase(), `${l.slice(0, 64)}${'g'.repeat(64)}${l.slice(128)}`]) {
      expect(await merkleRootOfHex(broken)).toBeNull();
    }
  });

  it('a large tree gives the event loop a turn after every slice of hashes', async () => {
    const l = leaves(4 * HASHES_PER_TURN).join('');
    let turns = 0;
    let hashing = true;
    const count = (): void => {
      if (!hashing) return;
      turns++;
      setImmediate(count);
    };
    setImmediate(count);
    await merkleRootOfHex(l);
    hashing = false;
    // 4,000 leaves: 3,999 parent hashes, a turn after every 1,000 of them
    expect(turns).toBeGreaterThanOrEqual(3);
  });
});

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

  it('keeps the roots the seals already hold (as computed before the tree was hashed a slice at a time)', async () => {
    // roots of sha256("tx0"), sha256("tx1"), … by the implementation of c9058cc (createHash per node)
    const recorded: [number, string][] = [
      [0, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
      [1, '95cd603fe577fa9548ec0c9b50b067566fe07c8af6acba45f6196f3a15d511f6'],
      [3, '726da7d399987671da491c4886e07dacd532fb6e7e48862732701d2443e3b532'],
      [4, '9db19fd4038d720fb19dec0f50cd6afbafe918851ddbb718773abff9783faeb0'],
      [1001, '3728a2f20f44816b4e14977b88bf8f3b15956a649442feafaeede5a779871531'],
    ];
    for (const [n, root] of recorded) {
      expect(merkleRoot(leaves(n))).toBe(root);
      expect(await merkleRootOfHex(leaves(n).join(''))).toBe(root);
    }
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

#!/usr/bin/env node
// Verifies a transaction against its seal, offline, with nothing but Node's crypto:
//   curl -H "X-API-Key: $AUDITOR" $URL/v1/audit/transactions/$ID/proof > proof.json
//   node scripts/verify-proof.js proof.json [previous-seal.json]
// 1. sha256(canonical) equals the transaction's hash;
// 2. the hash, walked up the proof, gives the seal's Merkle root;
// 3. the seal's hash recomputes from its previous hash, root, window and size
//    (and, given the previous seal, chains to it).
'use strict';
const { createHash } = require('node:crypto');
const { readFileSync } = require('node:fs');

const sha256 = (data) => createHash('sha256').update(data).digest('hex');
const parent = (l, r) => sha256(Buffer.concat([Buffer.from(l, 'hex'), Buffer.from(r, 'hex')]));

function verify(p, previous) {
  const failures = [];
  if (sha256(Buffer.from(p.canonical, 'utf8')) !== p.transactionHash)
    failures.push('the canonical content does not hash to transactionHash');
  const root = p.proof.reduce((node, s) => (s.position === 'left' ? parent(s.hash, node) : parent(node, s.hash)), p.transactionHash);
  if (root !== p.seal.merkleRoot) failures.push('the proof does not lead to the seal’s Merkle root');
  const s = p.seal;
  const sealHash = sha256(
    `${s.previousHash}|${s.merkleRoot}|${new Date(s.coversFrom).toISOString()}|${new Date(s.coversTo).toISOString()}|${s.transactions}`,
  );
  if (sealHash !== s.hash) failures.push('the seal’s hash does not recompute');
  if (previous && previous.hash !== s.previousHash) failures.push('the seal does not chain to the previous seal given');
  return failures;
}

if (require.main === module) {
  const proof = JSON.parse(readFileSync(process.argv[2], 'utf8'));
  const previous = process.argv[3] ? JSON.parse(readFileSync(process.argv[3], 'utf8')) : undefined;
  const failures = verify(proof, previous);
  if (failures.length) {
    console.error(`NOT VERIFIED: ${failures.join('; ')}`);
    process.exit(1);
  }
  console.log(`verified: transaction ${proof.transactionId} is in seal ${proof.seal.id} (${proof.seal.hash})`);
}

module.exports = { verify };

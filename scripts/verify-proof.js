#!/usr/bin/env node
// Verifies a transaction against its seal, offline, with nothing but Node's crypto:
//   curl -H "X-API-Key: $AUDITOR" $URL/v1/audit/transactions/$ID/proof > proof.json
//   node scripts/verify-proof.js proof.json [previous-seal.json]
// 1. sha256(canonical) equals the transaction's hash;
// 2. the hash, walked up the proof, gives the seal's Merkle root;
// 3. the seal's hash recomputes from its previous hash, root, window and size
//    (and, given the previous seal, chains to it).
// Exit 0 verified, 1 NOT VERIFIED, 2 nothing to verify (no argument, a missing file, not JSON, or an
// error answer such as a 404 saved in place of the proof), with a one-line reason.
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

const USAGE = 2;

/** A file that should hold a proof (or a seal), or a one-line reason and exit 2: never a stack trace. */
function readJson(file, what, check) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    fail(`cannot read ${what} ${file}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
  }
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    fail(`${file} is not JSON (${text.length ? 'was the proof saved with curl -o or > ?' : 'it is empty'})`);
  }
  if (value && typeof value === 'object' && typeof value.status === 'number' && typeof value.code === 'string') {
    // a problem document saved in place of the proof, e.g. a 404 for a transaction not sealed yet
    fail(`${file} holds an error answer, not a ${what}: ${value.status} ${value.code}: ${value.detail ?? value.title ?? ''}`.trim());
  }
  if (!check(value))
    fail(`${file} is not a ${what} (expected ${what === 'proof' ? 'canonical, transactionHash, proof and seal' : 'a seal with a hash'})`);
  return value;
}

function fail(reason) {
  console.error(`verify-proof: ${reason}`);
  process.exit(USAGE);
}

if (require.main === module) {
  if (!process.argv[2] || process.argv[2] === '--help' || process.argv[2] === '-h') {
    fail('usage: node scripts/verify-proof.js proof.json [previous-seal.json] (the proof: GET /v1/audit/transactions/{id}/proof)');
  }
  const proof = readJson(
    process.argv[2],
    'proof',
    (p) =>
      p &&
      typeof p.canonical === 'string' &&
      typeof p.transactionHash === 'string' &&
      Array.isArray(p.proof) &&
      p.seal &&
      typeof p.seal === 'object',
  );
  const previous = process.argv[3] ? readJson(process.argv[3], 'seal', (s) => s && typeof s.hash === 'string') : undefined;
  const failures = verify(proof, previous);
  if (failures.length) {
    console.error(`NOT VERIFIED: ${failures.join('; ')}`);
    process.exit(1);
  }
  console.log(`verified: transaction ${proof.transactionId} is in seal ${proof.seal.id} (${proof.seal.hash})`);
}

module.exports = { verify };

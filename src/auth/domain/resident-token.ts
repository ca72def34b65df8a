import { createSecretKey, KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { RESIDENT_ID } from '../../common/identifiers';

export type TokenVerdict = { ok: true; residentId: string } | { ok: false; reason: string };

/**
 * Verifies a resident's token from the city's sign-in: HS256 only (so `alg: none` and any
 * algorithm confusion are refused), a valid signature, an `exp` that has not passed, and a
 * `sub` that is a well-formed resident id.
 */
export function verifyResidentToken(token: string, secret: string | undefined): TokenVerdict {
  if (!secret) return { ok: false, reason: 'resident tokens are not configured on this service' };
  let payload: string | jwt.JwtPayload;
  try {
    payload = jwt.verify(token, secretKey(secret), { algorithms: ['HS256'], clockTolerance: 5 });
  } catch (error) {
    const reason =
      error instanceof jwt.TokenExpiredError
        ? 'token expired'
        : error instanceof jwt.JsonWebTokenError
          ? 'token not valid'
          : 'token not valid';
    return { ok: false, reason };
  }
  if (typeof payload !== 'object' || typeof payload.exp !== 'number') {
    return { ok: false, reason: 'token has no expiry (exp)' };
  }
  if (typeof payload.sub !== 'string' || !RESIDENT_ID.test(payload.sub)) {
    return { ok: false, reason: 'token subject (sub) is not a resident id' };
  }
  return { ok: true, residentId: payload.sub };
}

let cached: { secret: string; key: KeyObject } | undefined;

/**
 * The secret as a key object, made once: given a string, jsonwebtoken tries to parse it as a
 * public key on every verification, which cost more than the rest of a request.
 */
function secretKey(secret: string): KeyObject {
  if (cached?.secret !== secret) cached = { secret, key: createSecretKey(Buffer.from(secret, 'utf8')) };
  return cached.key;
}

/** Issues a resident token (demo, tests, tooling); the city's sign-in does this in production. */
export function signResidentToken(residentId: string, secret: string, expiresInSeconds = 3600): string {
  return jwt.sign({}, secret, { algorithm: 'HS256', subject: residentId, expiresIn: expiresInSeconds });
}

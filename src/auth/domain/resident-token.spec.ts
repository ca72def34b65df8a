import { createHmac } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { signResidentToken, verifyResidentToken } from './resident-token';

const SECRET = 'x'.repeat(40);
const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

describe('resident tokens', () => {
  it('accepts a token signed with the secret and names the resident', () => {
    expect(verifyResidentToken(signResidentToken('anna', SECRET), SECRET)).toEqual({ ok: true, residentId: 'anna' });
  });

  it('refuses an expired token', () => {
    const token = jwt.sign({ sub: 'anna', exp: now() - 60 }, SECRET, { algorithm: 'HS256' });
    expect(verifyResidentToken(token, SECRET)).toEqual({ ok: false, reason: 'token expired' });
  });

  it('refuses a token without an expiry', () => {
    const token = jwt.sign({ sub: 'anna' }, SECRET, { algorithm: 'HS256' });
    expect(verifyResidentToken(token, SECRET)).toEqual({ ok: false, reason: 'token has no expiry (exp)' });
  });

  it('refuses an unsigned token (alg none)', () => {
    const token = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'anna', exp: now() + 600 })}.`;
    expect(verifyResidentToken(token, SECRET).ok).toBe(false);
  });

  it('refuses a token signed with another secret', () => {
    expect(verifyResidentToken(signResidentToken('anna', 'y'.repeat(40)), SECRET).ok).toBe(false);
  });

  it('refuses a token whose payload was changed after signing', () => {
    const [header, , signature] = signResidentToken('anna', SECRET).split('.');
    const forged = `${header}.${b64({ sub: 'boris', exp: now() + 600 })}.${signature}`;
    expect(verifyResidentToken(forged, SECRET).ok).toBe(false);
  });

  it('refuses another algorithm even with a valid signature (HS512)', () => {
    const token = jwt.sign({ sub: 'anna', exp: now() + 600 }, SECRET, { algorithm: 'HS512' });
    expect(verifyResidentToken(token, SECRET).ok).toBe(false);
  });

  it('refuses a subject that is not a resident id', () => {
    const header = b64({ alg: 'HS256', typ: 'JWT' });
    for (const sub of ['', 'anna:admin', 'a'.repeat(65), 42]) {
      const body = b64({ sub, exp: now() + 600 });
      const signature = createHmac('sha256', SECRET).update(`${header}.${body}`).digest('base64url');
      expect(verifyResidentToken(`${header}.${body}.${signature}`, SECRET).ok).toBe(false);
    }
  });

  it('refuses everything when no secret is configured', () => {
    expect(verifyResidentToken(signResidentToken('anna', SECRET), undefined)).toEqual({
      ok: false,
      reason: 'resident tokens are not configured on this service',
    });
  });

  it('refuses garbage', () => {
    for (const token of ['', 'abc', 'a.b.c', '...']) expect(verifyResidentToken(token, SECRET).ok).toBe(false);
  });
});

import { canonicalJson, requestHash } from './request-hash';

describe('request hashes', () => {
  it('do not depend on the order of keys', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: 'x' } })).toBe('{"a":{"c":"x","d":[1,{"x":1,"y":2}]},"b":1}');
    expect(requestHash('post', '/v1/x', { a: 1, b: 2 })).toBe(requestHash('POST', '/v1/x', { b: 2, a: 1 }));
  });

  it('differ when the body, the path or the method differ', () => {
    const base = requestHash('POST', '/v1/x', { amount: '10' });
    expect(requestHash('POST', '/v1/x', { amount: '11' })).not.toBe(base);
    expect(requestHash('POST', '/v1/y', { amount: '10' })).not.toBe(base);
    expect(requestHash('PUT', '/v1/x', { amount: '10' })).not.toBe(base);
  });
});

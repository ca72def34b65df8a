import { payloadFor } from './events';
import { nextAttemptAt, retryDelayMs, RetryPolicy } from './retry';
import { isPublicAddress, urlProblem } from './url-safety';

describe('webhook retries', () => {
  const policy: RetryPolicy = { baseMs: 15_000, maxMs: 3_600_000, giveUpAfterMs: 24 * 3_600_000 };

  it('retry first within a minute, then twice as late each time (between half and all of it), capped', () => {
    expect(retryDelayMs(policy, 1, 0)).toBe(7_500);
    expect(retryDelayMs(policy, 1, 0.999_999)).toBeLessThanOrEqual(15_000);
    expect(retryDelayMs(policy, 2, 0)).toBe(15_000);
    expect(retryDelayMs(policy, 3, 0.5)).toBe(45_000);
    expect(retryDelayMs(policy, 40, 0)).toBe(1_800_000);
    expect(retryDelayMs(policy, 40, 0.999_999)).toBeLessThanOrEqual(3_600_000);
  });

  it('keeps retrying for 24 hours from the event, then gives up', () => {
    const created = new Date('2026-12-01T00:00:00Z');
    let now = created;
    let attempts = 0;
    for (;;) {
      const next = nextAttemptAt(policy, ++attempts, created, now, 0.5);
      if (!next) break;
      now = next;
    }
    expect(now.getTime() - created.getTime()).toBeGreaterThanOrEqual(24 * 3_600_000);
    expect(now.getTime() - created.getTime()).toBeLessThan(26 * 3_600_000);
    expect(attempts).toBeGreaterThan(20);
  });
});

describe('webhook URL rules', () => {
  it.each([
    ['https://hooks.example.org/x', null],
    ['http://93.184.215.14:8080/x?y=1', null],
    ['ftp://example.org/x', 'url must be http or https'],
    ['https://a:b@example.org/', 'url must not carry credentials'],
    ['nope', 'url is not a URL'],
  ])('%s', (url, problem) => expect(urlProblem(url)).toBe(problem));

  it.each([
    ['93.184.215.14', true],
    ['2606:2800:21f:cb07:6820:80da:af6b:8b2c', true],
    ['127.0.0.1', false],
    ['10.0.0.1', false],
    ['172.31.255.255', false],
    ['192.168.1.1', false],
    ['169.254.169.254', false],
    ['100.64.1.1', false],
    ['0.0.0.0', false],
    ['224.0.0.1', false],
    ['::1', false],
    ['::', false],
    ['fe80::1', false],
    ['fd12::1', false],
    ['::ffff:127.0.0.1', false],
    ['::ffff:10.0.0.1', false],
    ['not-an-address', false],
  ])('%s public: %s', (address, expected) => expect(isPublicAddress(address)).toBe(expected));
});

describe('what a webhook sees', () => {
  const data = { id: 'r1', residentId: 'anna', partnerId: 'cafe' };
  const at = new Date('2026-12-01T10:00:00Z');

  it("an unscoped webhook gets the resident's id; a partner's or source's does not", () => {
    expect(payloadFor({ partnerId: null, sourceId: null }, 'redemption.created', at, data)).toEqual({
      type: 'redemption.created',
      timestamp: '2026-12-01T10:00:00.000Z',
      data,
    });
    expect(payloadFor({ partnerId: 'cafe', sourceId: null }, 'redemption.created', at, data).data).toEqual({ id: 'r1', partnerId: 'cafe' });
    expect(payloadFor({ partnerId: null, sourceId: 'votes' }, 'redemption.created', at, data).data).not.toHaveProperty('residentId');
  });
});

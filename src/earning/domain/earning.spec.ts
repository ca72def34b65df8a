import { Decimal } from '../../common/money';
import { basePoints, Campaign, capPeriods, EarningRule, ruleFor, underCap, withCampaigns } from './earning';

const rule = (over: Partial<EarningRule> = {}): EarningRule => ({
  id: 'vote',
  sourceId: 'votes',
  eventType: 'vote.cast',
  title: 'Vote',
  points: new Decimal(20),
  minPoints: null,
  maxPoints: null,
  requiresConfirmation: false,
  dailyCap: null,
  monthlyCap: null,
  validFrom: null,
  validTo: null,
  createdAt: new Date('2026-01-01'),
  updatedAt: new Date('2026-01-01'),
  ...over,
});

describe('earning rules', () => {
  it('pick the rule for the type valid when the event happened', () => {
    const old = rule({ id: 'old', validTo: new Date('2026-06-01') });
    const current = rule({ id: 'new', validFrom: new Date('2026-06-01'), createdAt: new Date('2026-05-01') });
    expect(ruleFor([old, current], 'vote.cast', new Date('2026-03-01'))).toEqual({ rule: old });
    expect(ruleFor([old, current], 'vote.cast', new Date('2026-07-01'))).toEqual({ rule: current });
    expect(ruleFor([old], 'vote.cast', new Date('2026-07-01'))).toEqual({ reason: 'rule_not_valid' });
    expect(ruleFor([old], 'idea.accepted', new Date('2026-03-01'))).toEqual({ reason: 'no_rule' });
  });

  it('a ranged rule takes the points of the event within its range', () => {
    const task = rule({ minPoints: new Decimal(50), maxPoints: new Decimal(15000) });
    expect(basePoints(task, { points: '700' })?.toFixed()).toBe('700');
    expect(basePoints(task, { points: 15000 })?.toFixed()).toBe('15000');
    for (const points of ['49', '15001', '1.5', '-5', 'lots', undefined, null]) expect(basePoints(task, { points })).toBeNull();
    expect(basePoints(rule(), { points: '9999' })?.toFixed()).toBe('20');
  });
});

describe('campaigns', () => {
  const campaign = (multiplier: string, over: Partial<Campaign> = {}): Campaign => ({
    id: 'c',
    name: 'c',
    sourceId: null,
    eventType: null,
    multiplier: new Decimal(multiplier),
    validFrom: new Date('2026-11-01'),
    validTo: new Date('2026-12-01'),
    ...over,
  });
  const event = { sourceId: 'votes', type: 'vote.cast', occurredAt: new Date('2026-11-15') };

  it('multiply and round down to whole points: 15 × 1.5 = 22', () => {
    expect(withCampaigns(new Decimal(15), [campaign('1.5')], event).toFixed()).toBe('22');
    expect(withCampaigns(new Decimal(3), [campaign('1.33')], event).toFixed()).toBe('3');
  });

  it('do not stack: the largest matching multiplier applies', () => {
    expect(withCampaigns(new Decimal(20), [campaign('1.5'), campaign('2')], event).toFixed()).toBe('40');
  });

  it('apply only to their source, type and window', () => {
    expect(withCampaigns(new Decimal(20), [campaign('2', { sourceId: 'ideas' })], event).toFixed()).toBe('20');
    expect(withCampaigns(new Decimal(20), [campaign('2', { eventType: 'idea.accepted' })], event).toFixed()).toBe('20');
    expect(withCampaigns(new Decimal(20), [campaign('2')], { ...event, occurredAt: new Date('2026-12-01') }).toFixed()).toBe('20');
  });
});

describe('caps', () => {
  it('count the Moscow calendar: 23:59 and 00:01 Moscow time are different days', () => {
    // Moscow is UTC+3: 20:59Z is 23:59 in Moscow, 21:01Z is the next day there
    expect(capPeriods(new Date('2026-11-22T20:59:00Z'))).toEqual({ day: 'D2026-11-22', month: 'M2026-11' });
    expect(capPeriods(new Date('2026-11-22T21:01:00Z'))).toEqual({ day: 'D2026-11-23', month: 'M2026-11' });
    expect(capPeriods(new Date('2026-11-30T21:30:00Z'))).toEqual({ day: 'D2026-12-01', month: 'M2026-12' });
  });

  it('grant what is left under the cap, then nothing', () => {
    const cap = new Decimal(50);
    expect(underCap(new Decimal(20), new Decimal(0), cap).toFixed()).toBe('20');
    expect(underCap(new Decimal(20), new Decimal(40), cap).toFixed()).toBe('10');
    expect(underCap(new Decimal(20), new Decimal(50), cap).toFixed()).toBe('0');
    expect(underCap(new Decimal(20), new Decimal(0), null).toFixed()).toBe('20');
  });
});

import { setTimeout as sleep } from 'node:timers/promises';
import { newRowId } from './identifiers';

describe('newRowId', () => {
  it('is a version 7 UUID whose first 48 bits are the time it was made', () => {
    const before = Date.now();
    const id = newRowId();
    const after = Date.now();
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const millis = parseInt(id.replace(/-/g, '').slice(0, 12), 16);
    expect(millis).toBeGreaterThanOrEqual(before);
    expect(millis).toBeLessThanOrEqual(after);
  });

  it('sorts ids made in later milliseconds after earlier ones, as PostgreSQL compares uuids (bytewise)', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(newRowId());
      await sleep(2);
    }
    expect([...ids].sort()).toEqual(ids);
    // and are not all the same apart from the time: the rest is random
    expect(new Set(ids.map((id) => id.slice(15))).size).toBe(ids.length);
  });
});

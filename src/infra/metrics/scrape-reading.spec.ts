import { ScrapeReading } from './scrape-reading';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a reading for scrapes', () => {
  it('one reading serves scrapes while it is fresh; a stale one is read again', async () => {
    let reads = 0;
    const reading = new ScrapeReading(async () => ({ n: ++reads }), { ttlMs: 100, timeoutMs: 50 });
    expect(await reading.get()).toEqual({ n: 1 });
    expect(await reading.get()).toEqual({ n: 1 });
    await sleep(150);
    expect(await reading.get()).toEqual({ n: 2 });
  });

  it('a slow reading is waited for again, never started a second time beside it; a scrape that gives up gets nothing', async () => {
    const releases: ((value: { n: number }) => void)[] = [];
    const read = jest.fn(() => new Promise<{ n: number }>((resolve) => releases.push(resolve)));
    const reading = new ScrapeReading(read, { ttlMs: 100, timeoutMs: 30 });

    expect(await reading.get()).toBeUndefined(); // the scrape gives up on the slow read
    await sleep(250); // two lifetimes later, the first read still runs
    expect(await reading.get()).toBeUndefined();
    expect(read).toHaveBeenCalledTimes(1);

    releases[0]({ n: 7 });
    expect(await reading.get()).toEqual({ n: 7 });
    await sleep(150);
    const next = reading.get();
    releases[1]({ n: 4 });
    expect(await next).toEqual({ n: 4 });
    expect(read).toHaveBeenCalledTimes(2);
  });

  it('a failed reading is forgotten: the next scrape reads again', async () => {
    let attempt = 0;
    const reading = new ScrapeReading(
      async () => {
        if (++attempt === 1) throw new Error('database gone');
        return { n: attempt };
      },
      { ttlMs: 1_000, timeoutMs: 50 },
    );
    expect(await reading.get()).toBeUndefined();
    expect(await reading.get()).toEqual({ n: 2 });
  });
});

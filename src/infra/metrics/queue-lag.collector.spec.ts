import { ModuleRef } from '@nestjs/core';
import { PrismaService } from '../database/prisma.service';
import { MetricsService } from './metrics.service';
import { QueueLagCollector } from './queue-lag.collector';

describe('queue lag reading', () => {
  afterEach(() => jest.useRealTimers());

  it('a backlog query still running is waited for again, never started a second time beside it', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
    let release!: (rows: unknown) => void;
    const queryRaw = jest.fn(() => new Promise((resolve) => (release = resolve)));
    const metrics = new MetricsService();
    const noQueue = { get: () => { throw new Error('no queue'); } } as unknown as ModuleRef;
    new QueueLagCollector(metrics, { $queryRaw: queryRaw } as unknown as PrismaService, noQueue).onModuleInit();
    const gauge = async () => {
      const scrape = metrics.registry.getSingleMetricAsString('civic_earn_events_unprocessed');
      await jest.advanceTimersByTimeAsync(1_000); // the scrape gives up on the slow query
      return scrape;
    };

    await gauge();
    jest.advanceTimersByTime(10_000); // two readings' lifetimes later
    await gauge();
    expect(queryRaw).toHaveBeenCalledTimes(1);

    release([{ count: 7, age: 3 }]);
    await jest.advanceTimersByTimeAsync(10_000);
    const settled = metrics.registry.getSingleMetricAsString('civic_earn_events_unprocessed');
    await jest.advanceTimersByTimeAsync(0);
    release([{ count: 4, age: 1 }]);
    expect(await settled).toMatch(/civic_earn_events_unprocessed 4/);
    expect(queryRaw).toHaveBeenCalledTimes(2);
  });
});

import { createServer, Server, Socket } from 'node:net';
import { FixedWindowThrottlerStorage } from './fixed-window-storage';
import { SharedThrottlerStorage } from './shared-throttler-storage';
import { sharedRedis } from '../infra/queue/redis-client';
import { RedisThrottlerStorage } from './redis-throttler-storage';

/** A "Redis" that accepts connections and never answers: a hung server, not a down one. */
async function hungRedis(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets: Socket[] = [];
  const server: Server = createServer((socket) => {
    sockets.push(socket);
    socket.on('data', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        sockets.forEach((s) => s.destroy());
        server.close(() => resolve());
      }),
  };
}

describe('the shared Redis client', () => {
  it('fails a command that a hung Redis never answers, and a rate-limit count then falls back to the process', async () => {
    const hung = await hungRedis();
    const redis = sharedRedis(hung.url, 200);
    try {
      await expect(redis.get('anything')).rejects.toThrow('Command timed out');
      const storage = new SharedThrottlerStorage(new RedisThrottlerStorage(redis), new FixedWindowThrottlerStorage());
      const counted = await storage.increment('till-1', 60_000, 1, 60_000, 'partner-codes');
      const again = await storage.increment('till-1', 60_000, 1, 60_000, 'partner-codes');
      // counted here, and the limit of one holds in this process
      expect(counted).toMatchObject({ totalHits: 1, isBlocked: false });
      expect(again).toMatchObject({ totalHits: 2, isBlocked: true });
    } finally {
      const ended = new Promise((resolve) => redis.once('end', resolve));
      redis.disconnect();
      await ended;
      await hung.close();
    }
  });
});

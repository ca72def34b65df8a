import { untilAborted } from './abort';

describe('waiting until a signal aborts', () => {
  it('gives the work’s value when it comes first', async () => {
    await expect(untilAborted(Promise.resolve(7), AbortSignal.timeout(1_000))).resolves.toBe(7);
  });

  it('gives the work’s failure when it comes first', async () => {
    await expect(untilAborted(Promise.reject(new Error('refused')), AbortSignal.timeout(1_000))).rejects.toThrow('refused');
  });

  it('stops waiting with a TimeoutError when the work is slower than AbortSignal.timeout', async () => {
    const slow = new Promise((resolve) => setTimeout(resolve, 500, 'late').unref());
    const started = Date.now();
    await expect(untilAborted(slow, AbortSignal.timeout(20))).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(Date.now() - started).toBeLessThan(400);
  });

  it('an already aborted signal refuses at once', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stopped'));
    await expect(untilAborted(new Promise(() => undefined), controller.signal)).rejects.toThrow('stopped');
  });
});

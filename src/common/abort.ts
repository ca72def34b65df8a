/**
 * Settles as `work` does, or rejects with the signal's reason once it aborts (a `TimeoutError`
 * for `AbortSignal.timeout(ms)`), for work that takes no signal of its own (a Bull call, a
 * Prisma query). The work itself goes on; whoever waited stops waiting.
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => undefined); // its late failure is nobody's to report
    return Promise.reject(reasonOf(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(reasonOf(signal));
    signal.addEventListener('abort', abort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}

/** Why the signal aborted, as an Error (AbortSignal.timeout gives a DOMException, abort() whatever it was given). */
function reasonOf(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  // a DOMException is an Error, though not always of this realm's Error (under Jest's vm)
  const errorLike = reason instanceof Error || (typeof reason === 'object' && reason !== null && 'name' in reason && 'message' in reason);
  return errorLike ? (reason as Error) : new Error(String(reason));
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet, { HelmetOptions } from 'helmet';

type Middleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

/**
 * helmet's headers, worked out once: with its defaults (no directive computed per request) helmet
 * sets the same dozen headers on every answer through a chain of a dozen middleware. They are
 * taken from one run of it at start-up and set by one function.
 */
export function securityHeaders(options?: Readonly<HelmetOptions>): Middleware {
  const headers: [string, string | number | readonly string[]][] = [];
  const removed: string[] = [];
  let error: unknown;
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers.push([name, value]);
      return recorder;
    },
    removeHeader(name: string) {
      removed.push(name);
    },
  };
  let ran = false;
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (e?: unknown) => {
    ran = true;
    error = e;
  });
  if (!ran || error)
    throw new Error(
      `helmet's headers could not be worked out once: ${error instanceof Error ? error.message : 'it did not finish at once'}`,
    );
  return (_req, res, next) => {
    for (let i = 0; i < headers.length; i++) res.setHeader(headers[i][0], headers[i][1]);
    for (let i = 0; i < removed.length; i++) res.removeHeader(removed[i]);
    next();
  };
}

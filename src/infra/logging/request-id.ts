import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

export const REQUEST_ID_HEADER = 'X-Request-Id';

/** An incoming id is kept only if it is short and plain: it ends up in every log line of the request. */
const ACCEPTABLE_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

/** The request's id: the caller's X-Request-Id when acceptable, else a new one. */
export function requestIdOf(req: Request): string {
  const incoming = req.header(REQUEST_ID_HEADER);
  return incoming !== undefined && ACCEPTABLE_ID.test(incoming) ? incoming : randomUUID();
}

/**
 * First of all middleware: every response, Nest route or not (docs, Bull Board), carries the id
 * that the request's log lines are tagged with.
 */
export function requestIdMiddleware(req: Request, res: Response, next: NextFunction): void {
  const id = requestIdOf(req);
  (req as Request & { id: string }).id = id;
  res.setHeader(REQUEST_ID_HEADER, id);
  next();
}

import { createBullBoard } from '@bull-board/api';
import { BullAdapter } from '@bull-board/api/bullAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bull';
import type { Express, NextFunction, Request, Response } from 'express';
import { DomainError } from '../../common/errors';
import { problemOf, writeProblem } from '../../common/problem';

export const QUEUE_BOARD_PATH = '/admin/queues';
const REALM = 'Basic realm="Civic points ledger queues", charset="UTF-8"';

/**
 * Who holds an API key: given by the composition root (the service that owns API clients), since
 * infrastructure does not reach into capabilities. Throws DomainError('unauthorized') for a key
 * that is not one.
 */
export type KeyAuthenticator = (apiKey: string) => Promise<{ role: string }>;

/**
 * Bull Board, the operators' view of the queues, at /admin/queues for admin keys only: the
 * X-API-Key header, or HTTP Basic with the key as password (any user name) so that a browser
 * can open it. Without Redis there are no queues: the path answers 404 saying so.
 */
export function mountQueueBoard(express: Express, queues: Queue[] | null, authenticate: KeyAuthenticator): void {
  if (!queues) {
    express.use(QUEUE_BOARD_PATH, (req: Request, res: Response) =>
      writeProblem(
        res,
        problemOf('not_found', 'No queue dashboard: the service runs without Redis (REDIS_URL unset), so jobs run in-process', pathOf(req)),
      ),
    );
    return;
  }
  const board = new ExpressAdapter();
  board.setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({
    queues: queues.map((q) => new BullAdapter(q)),
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'Civic points ledger' } },
  });
  express.use(QUEUE_BOARD_PATH, adminOnly(authenticate), board.getRouter());
}

function adminOnly(authenticate: KeyAuthenticator) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const key = req.header('x-api-key') ?? basicPassword(req.header('authorization'));
    if (key === undefined)
      return refuse(req, res, 'unauthorized', 'Admin credentials required: an X-API-Key header, or HTTP Basic with the key as password');
    try {
      const principal = await authenticate(key);
      if (principal.role !== 'admin') return refuse(req, res, 'forbidden', 'The queue dashboard is for admin keys only');
    } catch (error) {
      if (error instanceof DomainError && error.code === 'unauthorized') return refuse(req, res, 'unauthorized', error.message);
      return next(error);
    }
    next();
  };
}

/** The password of `Authorization: Basic base64(user:password)`. */
function basicPassword(authorization: string | undefined): string | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/]+=*)$/i.exec(authorization ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : decoded.slice(colon + 1);
}

function refuse(req: Request, res: Response, code: 'unauthorized' | 'forbidden', detail: string): void {
  if (code === 'unauthorized') res.setHeader('WWW-Authenticate', REALM);
  writeProblem(res, problemOf(code, detail, pathOf(req)));
}

function pathOf(req: Request): string {
  return req.originalUrl.split('?')[0];
}

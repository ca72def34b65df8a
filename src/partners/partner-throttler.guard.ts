import { ExecutionContext, Injectable } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import { AuthenticatedRequest } from '../common/access';
import { actorOf } from '../common/principal';

/** Counts code look-ups and redemptions per API key (not per address): a till, not a network. */
@Injectable()
export class PartnerThrottlerGuard extends ThrottlerGuard {
  protected override getTracker(req: Record<string, unknown>): Promise<string> {
    const principal = (req as AuthenticatedRequest).principal;
    return Promise.resolve(principal ? actorOf(principal) : String(req.ip));
  }

  /**
   * One budget per key for look-ups and redemptions together: the library's key names the
   * handler, which gave a guesser twice the limit by alternating GET and POST.
   */
  protected override generateKey(_context: ExecutionContext, tracker: string, throttlerName: string): string {
    return `${throttlerName}:${tracker}`;
  }
}

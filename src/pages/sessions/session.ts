import { ClientRole } from '../../common/principal';

/** Who a page session belongs to: a resident, or an API client's role (its key opened the session). */
export type PageUser =
  | { kind: 'resident'; residentId: string }
  | { kind: 'client'; role: ClientRole; name: string; clientId: string | null; partnerId: string | null };

/** A page's audience: residents, or holders of one of these roles. */
export type PageAudience = 'resident' | ClientRole;

export function audienceOf(user: PageUser): PageAudience {
  return user.kind === 'resident' ? 'resident' : user.role;
}

/** Idle and absolute lifetimes of a session. */
export const SESSION_IDLE_MS = 2 * 3600_000;
export const SESSION_ABSOLUTE_MS = 12 * 3600_000;
/** A session's last use is written at most this often (not on every page). */
export const SESSION_TOUCH_MS = 60_000;

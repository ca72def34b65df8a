/** Who is calling: an API client with one role, or a resident signed in through the city. */
export const CLIENT_ROLES = ['source', 'partner', 'auditor', 'admin'] as const;
export type ClientRole = (typeof CLIENT_ROLES)[number];

export interface ClientPrincipal {
  readonly kind: 'client';
  /** null for the bootstrap admin key from the configuration */
  readonly clientId: string | null;
  readonly name: string;
  readonly role: ClientRole;
  readonly sourceId: string | null;
  readonly partnerId: string | null;
}

export interface ResidentPrincipal {
  readonly kind: 'resident';
  readonly residentId: string;
}

export type Principal = ClientPrincipal | ResidentPrincipal;

/** How a principal is named in the administrative log. */
export function actorOf(principal: Principal): string {
  if (principal.kind === 'resident') return `resident:${principal.residentId}`;
  return principal.clientId ? `client:${principal.clientId}` : 'bootstrap-admin';
}

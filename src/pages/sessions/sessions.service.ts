import { Inject, Injectable } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import { ApiClientsService } from '../../auth/api-clients.service';
import { hashApiKey } from '../../auth/domain/api-key';
import { verifyResidentToken } from '../../auth/domain/resident-token';
import { DomainError } from '../../common/errors';
import { APP_CONFIG, AppConfig } from '../../config/config';
import { PageUser, SESSION_ABSOLUTE_MS, SESSION_IDLE_MS, SESSION_TOUCH_MS } from './session';
import { SessionsRepository } from './sessions.repository';

/** How often (at most) a sign-in also clears sessions that ran out. */
const SWEEP_MS = 10 * 60_000;

/**
 * Server-side sessions of the pages. The browser holds only a random token; the database holds
 * its SHA-256, who it is for and when it ends (idle and absolute). A client's session is checked
 * against its API client on every request, so revoking the key ends it at once, in every process.
 */
@Injectable()
export class SessionsService {
  private readonly bootstrapHash?: string;
  private lastSweep = 0;

  constructor(
    private readonly repository: SessionsRepository,
    private readonly apiClients: ApiClientsService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.bootstrapHash = config.adminApiKey ? hashApiKey(config.adminApiKey) : undefined;
    this.residentSecret = config.residentJwtSecret;
  }

  private readonly residentSecret?: string;

  /** Opens a session for an API key (partners, auditors, admins; a source key has no pages). Returns its token. */
  async signInWithKey(apiKey: string): Promise<{ token: string; user: PageUser }> {
    const principal = await this.apiClients.authenticate(apiKey.trim());
    if (principal.role === 'source') throw new DomainError('forbidden', 'a source key has no pages');
    const user: PageUser = {
      kind: 'client',
      role: principal.role,
      name: principal.name,
      clientId: principal.clientId,
      partnerId: principal.partnerId,
    };
    const token = await this.open(
      principal.clientId ? { kind: 'client', apiClientId: principal.clientId } : { kind: 'client', bootstrapHash: this.bootstrapHash! },
    );
    return { token, user };
  }

  /** Opens a session for a resident token from the city's sign-in. */
  async signInResident(residentToken: string): Promise<{ token: string; user: PageUser }> {
    const verdict = verifyResidentToken(residentToken.trim(), this.residentSecret);
    if (!verdict.ok) throw new DomainError('unauthorized', `resident token refused: ${verdict.reason}`);
    return this.signInAs({ kind: 'resident', residentId: verdict.residentId });
  }

  /** Opens a session for someone already known (the demo's one-click sign-in). */
  async signInAs(user: PageUser): Promise<{ token: string; user: PageUser }> {
    const token =
      user.kind === 'resident'
        ? await this.open({ kind: 'resident', residentId: user.residentId })
        : await this.open(
            user.clientId ? { kind: 'client', apiClientId: user.clientId } : { kind: 'client', bootstrapHash: this.bootstrapHash! },
          );
    return { token, user };
  }

  /** Who a session's token belongs to, or null when there is none, it ran out, or its key was revoked. */
  async resolve(token: string | undefined, now = new Date()): Promise<PageUser | null> {
    if (!token || !/^[A-Za-z0-9_-]{43}$/.test(token)) return null;
    const hash = tokenHash(token);
    const row = await this.repository.find(hash);
    if (!row) return null;
    const idle = now.getTime() - row.lastSeenAt.getTime() > SESSION_IDLE_MS;
    const revoked = row.kind === 'client' && (row.client ? row.client.revokedAt !== null : row.bootstrapHash !== this.bootstrapHash);
    if (row.expiresAt <= now || idle || revoked) {
      await this.repository.delete(hash);
      return null;
    }
    if (now.getTime() - row.lastSeenAt.getTime() > SESSION_TOUCH_MS) await this.repository.touch(hash, now);
    if (row.kind === 'resident') return { kind: 'resident', residentId: row.residentId! };
    if (row.client)
      return { kind: 'client', role: row.client.role, name: row.client.name, clientId: row.apiClientId, partnerId: row.client.partnerId };
    return { kind: 'client', role: 'admin', name: 'bootstrap admin', clientId: null, partnerId: null };
  }

  async signOut(token: string | undefined): Promise<void> {
    if (token) await this.repository.delete(tokenHash(token));
  }

  private async open(row: {
    kind: 'resident' | 'client';
    residentId?: string;
    apiClientId?: string;
    bootstrapHash?: string;
  }): Promise<string> {
    const now = Date.now();
    if (now - this.lastSweep > SWEEP_MS) {
      this.lastSweep = now;
      await this.repository.deleteStale(new Date(now), new Date(now - SESSION_IDLE_MS));
    }
    const token = randomBytes(32).toString('base64url');
    await this.repository.create({ ...row, tokenHash: tokenHash(token), expiresAt: new Date(now + SESSION_ABSOLUTE_MS) });
    return token;
  }
}

function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

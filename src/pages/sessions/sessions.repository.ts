import { Injectable } from '@nestjs/common';
import { ClientRole } from '../../common/principal';
import { TransactionHost } from '../../infra/database/transaction-host';

export interface SessionRow {
  kind: 'resident' | 'client';
  residentId: string | null;
  apiClientId: string | null;
  bootstrapHash: string | null;
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
  /** the API client's, when it is a client's session */
  client: { name: string; role: ClientRole; partnerId: string | null; revokedAt: Date | null } | null;
}

/** The app_sessions table: pages' sessions, by the SHA-256 of their cookie's token. */
@Injectable()
export class SessionsRepository {
  constructor(private readonly db: TransactionHost) {}

  async create(row: {
    tokenHash: string;
    kind: 'resident' | 'client';
    residentId?: string;
    apiClientId?: string;
    bootstrapHash?: string;
    expiresAt: Date;
  }): Promise<void> {
    await this.db.client.appSession.create({ data: row });
  }

  /** A session with its API client (one query: a revoked key is seen on the session's next request). */
  async find(tokenHash: string): Promise<SessionRow | null> {
    const row = await this.db.client.appSession.findUnique({
      where: { tokenHash },
      include: { apiClient: { select: { name: true, role: true, partnerId: true, revokedAt: true } } },
    });
    if (!row) return null;
    return {
      kind: row.kind as SessionRow['kind'],
      residentId: row.residentId,
      apiClientId: row.apiClientId,
      bootstrapHash: row.bootstrapHash,
      createdAt: row.createdAt,
      lastSeenAt: row.lastSeenAt,
      expiresAt: row.expiresAt,
      client: row.apiClient && { ...row.apiClient, role: row.apiClient.role as ClientRole },
    };
  }

  async touch(tokenHash: string, at: Date): Promise<void> {
    await this.db.client.appSession.updateMany({ where: { tokenHash }, data: { lastSeenAt: at } });
  }

  async delete(tokenHash: string): Promise<void> {
    await this.db.client.appSession.deleteMany({ where: { tokenHash } });
  }

  /** Ends every session an API client opened (its key was revoked). */
  async deleteOfClient(apiClientId: string): Promise<number> {
    return (await this.db.client.appSession.deleteMany({ where: { apiClientId } })).count;
  }

  /** Deletes sessions past their absolute expiry or idle for longer than `idleBefore`. */
  async deleteStale(now: Date, idleBefore: Date): Promise<number> {
    return (
      await this.db.client.appSession.deleteMany({ where: { OR: [{ expiresAt: { lte: now } }, { lastSeenAt: { lt: idleBefore } }] } })
    ).count;
  }
}

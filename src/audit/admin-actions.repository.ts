import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../infra/database/transaction-host';

export interface AdminActionEntry {
  actor: string;
  action: string;
  subject: string;
  details?: Record<string, string | number | boolean | null>;
}

/** The append-only log of administrative actions; written in the same transaction as the action (the open one). */
@Injectable()
export class AdminActionsRepository {
  constructor(private readonly db: TransactionHost) {}

  async record(entry: AdminActionEntry): Promise<void> {
    await this.db.client.adminAction.create({
      data: { actor: entry.actor, action: entry.action, subject: entry.subject, details: entry.details ?? {} },
    });
  }
}

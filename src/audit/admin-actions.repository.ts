import { Injectable } from '@nestjs/common';
import { Tx } from '../infra/database/prisma.service';

export interface AdminActionEntry {
  actor: string;
  action: string;
  subject: string;
  details?: Record<string, string | number | boolean | null>;
}

/** The append-only log of administrative actions; written in the same transaction as the action. */
@Injectable()
export class AdminActionsRepository {
  async record(tx: Tx, entry: AdminActionEntry): Promise<void> {
    await tx.adminAction.create({
      data: { actor: entry.actor, action: entry.action, subject: entry.subject, details: entry.details ?? {} },
    });
  }
}

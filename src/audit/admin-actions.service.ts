import { Injectable } from '@nestjs/common';
import { AdminActionEntry, AdminActionsRepository } from './admin-actions.repository';

export type { AdminActionEntry } from './admin-actions.repository';

/**
 * The recorder of administrative actions, what audit offers the capabilities that act (API
 * clients, the programme, webhooks): the entry is written in the caller's open transaction, so an
 * action and its log line commit or roll back together. Audit owns the table.
 */
@Injectable()
export class AdminActionsService {
  constructor(private readonly repository: AdminActionsRepository) {}

  record(entry: AdminActionEntry): Promise<void> {
    return this.repository.record(entry);
  }
}

import { Injectable } from '@nestjs/common';
import { ReadReplica } from '../infra/database/read-replica';

export interface TransactionOrigin {
  earnEvent?: { sourceId: string; externalId: string; status: string };
  redemption?: { id: string; residentId: string; itemId: string; status: string };
}

/**
 * What auditors read besides the journal (which they read through the ledger's read side): the
 * origin of a transaction. Read-only (it could run on a read replica).
 */
@Injectable()
export class AuditRepository {
  // reads that may lag: on the replica when one is configured and in step (see ReadReplica)
  constructor(private readonly db: ReadReplica) {}

  /** What a transaction came from: the earn event or the redemption behind it. */
  async originOf(transactionId: string): Promise<TransactionOrigin> {
    const [event] = await this.db.client.$queryRaw<{ source_id: string; external_id: string; status: string }[]>`
      SELECT source_id, external_id, status FROM earn_events WHERE transaction_id = ${transactionId}::uuid LIMIT 1`;
    const [redemption] = await this.db.client.$queryRaw<{ id: string; resident_id: string; item_id: string; status: string }[]>`
      SELECT id::text, resident_id, item_id, status FROM redemptions
      WHERE transaction_id = ${transactionId}::uuid OR refund_transaction_id = ${transactionId}::uuid LIMIT 1`;
    return {
      ...(event ? { earnEvent: { sourceId: event.source_id, externalId: event.external_id, status: event.status } } : {}),
      ...(redemption
        ? { redemption: { id: redemption.id, residentId: redemption.resident_id, itemId: redemption.item_id, status: redemption.status } }
        : {}),
    };
  }
}

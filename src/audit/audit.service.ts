import { Injectable } from '@nestjs/common';
import { AuditRepository, TransactionOrigin } from './audit.repository';

export type { TransactionOrigin } from './audit.repository';

/** What auditors read besides the journal (the journal itself comes from the ledger's read side). */
@Injectable()
export class AuditService {
  constructor(private readonly repository: AuditRepository) {}

  /** What a transaction came from: the earn event or the redemption behind it (neither, for an adjustment). */
  originOf(transactionId: string): Promise<TransactionOrigin> {
    return this.repository.originOf(transactionId);
  }
}

import { Injectable } from '@nestjs/common';
import { Decimal } from '../common/money';
import { ADJUSTMENTS_ACCOUNT, residentAccount } from './domain/account';
import { ledgerInvalid } from './domain/errors';
import { LedgerTransaction } from './domain/ledger-transaction';
import { LedgerService } from './ledger.service';

/**
 * A programme admin's manual correction of a resident's points, with a reason: a ledger
 * transaction between the resident and `programme:adjustments`. A negative adjustment never
 * takes the resident below zero.
 */
@Injectable()
export class AdjustmentsService {
  constructor(private readonly ledger: LedgerService) {}

  /**
   * `expiresAt`: when the points a positive adjustment credits expire (none: as the expiry
   * policy says, from now); refused on a negative one, and in the past.
   */
  async adjust(actor: string, residentId: string, amount: Decimal, reason: string, expiresAt?: Date): Promise<LedgerTransaction> {
    if (amount.isZero()) throw ledgerInvalid('amount must not be zero');
    if (expiresAt && amount.isNegative()) throw ledgerInvalid('expiresAt is only for a positive adjustment');
    if (expiresAt && expiresAt.getTime() <= Date.now()) throw ledgerInvalid('expiresAt must be in the future');
    const creditExpiresAt = amount.isPositive() ? (expiresAt ?? (await this.ledger.creditExpiry())) : null;
    const resident = residentAccount(residentId);
    const size = amount.abs();
    const [debit, credit] = amount.isPositive() ? [ADJUSTMENTS_ACCOUNT, resident] : [resident, ADJUSTMENTS_ACCOUNT];
    return this.ledger.record({
      type: 'adjustment',
      postings: [
        { account: debit, asset: 'POINTS', side: 'D', amount: size },
        { account: credit, asset: 'POINTS', side: 'C', amount: size },
      ],
      metadata: { reason, actor, residentId },
      description: reason,
      creditExpiresAt: creditExpiresAt ?? undefined,
    });
  }
}

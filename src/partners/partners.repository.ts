import { Injectable } from '@nestjs/common';
import { CodeStatus } from '../catalogue/domain/codes';
import { Decimal } from '../common/money';
import { TransactionHost } from '../infra/database/transaction-host';

export interface CodeRecord {
  code: string;
  status: CodeStatus;
  itemId: string;
  partnerId: string;
  validUntil: Date | null;
  redeemedAt: Date | null;
  redemptionId: string | null;
}

/**
 * What a partner's till reads and writes: its codes (looked up and redeemed) and its statements
 * (moved here from CatalogueRepository).
 */
@Injectable()
export class PartnersRepository {
  constructor(private readonly db: TransactionHost) {}

  /** A code of this partner's items (codes are unique per item; a partner's, per partner). */
  async findCode(code: string, partnerId: string): Promise<CodeRecord | null> {
    const rows = await this.db.read<{
      code: string;
      status: CodeStatus;
      item_id: string;
      valid_until: Date | null;
      redeemed_at: Date | null;
      redemption_id: string | null;
    }>(
      'partner_find_code',
      `SELECT c.code, c.status, c.item_id, c.valid_until, c.redeemed_at, c.redemption_id::text
       FROM item_codes c JOIN catalogue_items i ON i.id = c.item_id WHERE c.code = $1 AND i.partner_id = $2
       ORDER BY c.id LIMIT 1`,
      [code, partnerId],
    );
    const r = rows[0];
    return r
      ? {
          code: r.code,
          status: r.status,
          itemId: r.item_id,
          partnerId,
          validUntil: r.valid_until,
          redeemedAt: r.redeemed_at,
          redemptionId: r.redemption_id,
        }
      : null;
  }

  /** Marks an issued, unexpired code of this partner redeemed: one winner among any number of racers. */
  async redeemCode(code: string, partnerId: string, now: Date): Promise<Date | null> {
    const rows = await this.db.client.$queryRaw<{ redeemed_at: Date }[]>`
      UPDATE item_codes c SET status = 'redeemed', redeemed_at = ${now}
      FROM catalogue_items i
      WHERE c.code = ${code} AND i.id = c.item_id AND i.partner_id = ${partnerId}
        AND c.status = 'issued' AND (c.valid_until IS NULL OR c.valid_until > ${now})
      RETURNING c.redeemed_at`;
    return rows[0]?.redeemed_at ?? null;
  }

  /** Redeemed codes per item of a partner in [from, to), with the points they stand for. */
  async settlement(partnerId: string, from: Date, to: Date): Promise<{ itemId: string; title: string; codes: number; points: Decimal }[]> {
    const rows = await this.db.client.$queryRaw<{ item_id: string; title: string; codes: number; points: string }[]>`
      SELECT i.id AS item_id, i.title, count(*)::int AS codes,
             coalesce(sum(r.points_spent / r.quantity), 0)::text AS points
      FROM item_codes c JOIN catalogue_items i ON i.id = c.item_id JOIN redemptions r ON r.id = c.redemption_id
      WHERE i.partner_id = ${partnerId} AND c.status = 'redeemed' AND c.redeemed_at >= ${from} AND c.redeemed_at < ${to}
      GROUP BY i.id, i.title ORDER BY i.id`;
    return rows.map((r) => ({ itemId: r.item_id, title: r.title, codes: r.codes, points: new Decimal(r.points) }));
  }

  /** Donations to a charity fund in [from, to), per item. */
  async donations(
    partnerId: string,
    from: Date,
    to: Date,
  ): Promise<{ itemId: string; title: string; donations: number; points: Decimal }[]> {
    const rows = await this.db.client.$queryRaw<{ item_id: string; title: string; n: number; points: string }[]>`
      SELECT i.id AS item_id, i.title, count(*)::int AS n, coalesce(sum(r.points_spent), 0)::text AS points
      FROM redemptions r JOIN catalogue_items i ON i.id = r.item_id
      WHERE i.partner_id = ${partnerId} AND r.kind = 'DONATION' AND r.status = 'completed'
        AND r.created_at >= ${from} AND r.created_at < ${to}
      GROUP BY i.id, i.title ORDER BY i.id`;
    return rows.map((r) => ({ itemId: r.item_id, title: r.title, donations: r.n, points: new Decimal(r.points) }));
  }

  /** The codes of a partner's items redeemed in [from, to), newest first. */
  async redeemedCodes(
    partnerId: string,
    from: Date,
    to: Date,
    take: number,
  ): Promise<{ code: string; itemId: string; title: string; redeemedAt: Date }[]> {
    const rows = await this.db.client.$queryRaw<{ code: string; item_id: string; title: string; redeemed_at: Date }[]>`
      SELECT c.code, c.item_id, i.title, c.redeemed_at
      FROM item_codes c JOIN catalogue_items i ON i.id = c.item_id
      WHERE i.partner_id = ${partnerId} AND c.status = 'redeemed' AND c.redeemed_at >= ${from} AND c.redeemed_at < ${to}
      ORDER BY c.redeemed_at DESC, c.id DESC LIMIT ${take}`;
    return rows.map((r) => ({ code: r.code, itemId: r.item_id, title: r.title, redeemedAt: r.redeemed_at }));
  }
}

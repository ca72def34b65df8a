export const PARTNER_KINDS = ['shop', 'cafe', 'museum', 'park', 'charity', 'other'] as const;
export type PartnerKind = (typeof PARTNER_KINDS)[number];

export interface Source {
  id: string;
  name: string;
  createdAt: Date;
}

export interface Partner {
  id: string;
  name: string;
  kind: PartnerKind;
  createdAt: Date;
}

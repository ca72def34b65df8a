import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  isIn,
  isISO8601,
  matches,
  maxLength,
  minLength,
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsISO8601,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { RESIDENT_ID, RESIDENT_ID_HINT, SLUG_ID, SLUG_ID_HINT } from '../../common/identifiers';
import { formatAmount } from '../../common/money';
import { MAX_EXPIRY_DAYS } from '../../ledger/domain/expiry';
import { IsDecimalString, IsSmallJsonObject, isSmallJsonObject, WHOLE_POINTS } from '../../common/validators';
import { Campaign, EarnEventStatus, EarningRule } from '../domain/earning';
import { EarnEventRecord } from '../earning.repository';
import { MAX_BATCH } from '../earning.service';

const EVENT_TYPE = /^[a-z][a-z0-9_.-]{0,63}$/;
const EXTERNAL_ID = /^[\x21-\x7e]+$/;
const ATTRIBUTES_MAX_BYTES = 4096;
const ISO_8601 = { strict: true, strictSeparator: true } as const;
const EVENT_TYPE_HINT = 'lower-case letters, digits, ".", "_" or "-", at most 64, starting with a letter';

export class EarnEventInputDto {
  @ApiProperty({ example: 'vote-123-anna', description: 'The source’s own id of the event: unique per source' })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  @Matches(EXTERNAL_ID, { message: 'externalId must be printable ASCII without spaces' })
  externalId: string;

  @ApiProperty({ example: 'vote.cast' })
  @IsString()
  @Matches(EVENT_TYPE, { message: `type must be ${EVENT_TYPE_HINT}` })
  type: string;

  @ApiProperty({ example: 'anna' })
  @IsString()
  @Matches(RESIDENT_ID, { message: `residentId must be ${RESIDENT_ID_HINT}` })
  residentId: string;

  @ApiProperty({ format: 'date-time' })
  @IsISO8601(ISO_8601)
  occurredAt: string;

  @ApiPropertyOptional({ enum: ['confirmed', 'pending'], default: 'confirmed' })
  @IsOptional()
  @IsIn(['confirmed', 'pending'])
  status?: 'confirmed' | 'pending';

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    example: { description: 'Vote in poll 123', points: '700' },
    description: '`description` names the entry in the resident’s history; `points` prices an event of a ranged rule',
  })
  @IsOptional()
  @IsSmallJsonObject(ATTRIBUTES_MAX_BYTES)
  attributes?: Record<string, unknown>;
}

export class EarnEventsBatchDto {
  @ApiProperty({ type: [EarnEventInputDto], minItems: 1, maxItems: MAX_BATCH })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_BATCH)
  @ValidateNested({ each: true })
  @Type(() => EarnEventInputDto)
  events: EarnEventInputDto[];
}

const EVENT_FIELDS = new Set(['externalId', 'type', 'residentId', 'occurredAt', 'status', 'attributes']);

/**
 * Whether a batch passes every check of EarnEventsBatchDto, tested field by field with the
 * predicates its decorators use (class-validator's own functions), without building an
 * instance per event: for 1000 events the decorators cost more than storing them. It may say no
 * to a valid batch (null for an optional field, say), never yes to an invalid one: a no only
 * sends the batch through the validation pipe, which then names every error.
 */
export function isValidBatch(body: unknown): body is EarnEventsBatchDto {
  if (!isPlainObject(body) || Object.keys(body).length !== 1) return false;
  const events = (body as { events?: unknown }).events;
  if (!Array.isArray(events) || events.length < 1 || events.length > MAX_BATCH) return false;
  return events.every(isValidEvent);
}

function isValidEvent(e: unknown): boolean {
  if (!isPlainObject(e)) return false;
  for (const key of Object.keys(e)) if (!EVENT_FIELDS.has(key)) return false;
  const { externalId, type, residentId, occurredAt, status, attributes } = e as Record<string, unknown>;
  return (
    typeof externalId === 'string' &&
    minLength(externalId, 1) &&
    maxLength(externalId, 200) &&
    matches(externalId, EXTERNAL_ID) &&
    typeof type === 'string' &&
    matches(type, EVENT_TYPE) &&
    typeof residentId === 'string' &&
    matches(residentId, RESIDENT_ID) &&
    isISO8601(occurredAt, ISO_8601) &&
    (!('status' in e) || isIn(status, ['confirmed', 'pending'])) &&
    (!('attributes' in e) || isSmallJsonObject(attributes, ATTRIBUTES_MAX_BYTES))
  );
}

function isPlainObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
}

export class IntakeResultDto {
  @ApiProperty() externalId: string;
  @ApiProperty({ enum: ['accepted', 'duplicate', 'rejected'] }) status: string;
  @ApiPropertyOptional({ enum: ['no_rule', 'rule_not_valid', 'points_out_of_range'] }) reason?: string;
}

export class IntakeResponseDto {
  @ApiProperty({ type: [IntakeResultDto], description: 'One per event, in the order sent' })
  results: IntakeResultDto[];
}

const STATUSES: EarnEventStatus[] = ['received', 'pending', 'posted', 'rejected', 'revoked'];

export class EarnEventDto {
  @ApiProperty() externalId: string;
  @ApiProperty() type: string;
  @ApiProperty() residentId: string;
  @ApiProperty({ enum: STATUSES }) status: EarnEventStatus;
  @ApiProperty({ type: String, nullable: true, example: '20', description: 'What was (or will be) accrued, after caps and campaigns' })
  points: string | null;
  @ApiProperty({ type: String, nullable: true, format: 'uuid' }) transactionId: string | null;
  @ApiPropertyOptional({ type: String, nullable: true }) reason: string | null;
  @ApiProperty({ format: 'date-time' }) occurredAt: string;
  @ApiProperty({ format: 'date-time' }) receivedAt: string;

  static of(e: EarnEventRecord): EarnEventDto {
    return {
      externalId: e.externalId,
      type: e.type,
      residentId: e.residentId,
      status: e.status,
      points: e.points ? formatAmount(e.points, 0) : null,
      transactionId: e.transactionId,
      reason: e.reason,
      occurredAt: e.occurredAt.toISOString(),
      receivedAt: e.receivedAt.toISOString(),
    };
  }
}

export class CreateEarningRuleDto {
  @ApiProperty({ example: 'vote-cast', description: `Rule id: ${SLUG_ID_HINT}` })
  @IsString()
  @Matches(SLUG_ID, { message: `id must be ${SLUG_ID_HINT}` })
  id: string;

  @ApiProperty({ example: 'active-citizen' })
  @IsString()
  @Matches(SLUG_ID, { message: `sourceId must be ${SLUG_ID_HINT}` })
  sourceId: string;

  @ApiProperty({ example: 'vote.cast' })
  @IsString()
  @Matches(EVENT_TYPE, { message: `eventType must be ${EVENT_TYPE_HINT}` })
  eventType: string;

  @ApiPropertyOptional({ example: 'Vote in a city poll', description: 'Names the accrual in residents’ histories' })
  @IsOptional()
  @IsString()
  @MaxLength(120)
  title?: string;

  @ApiProperty({ example: '20', description: 'Whole points per event' })
  @Matches(WHOLE_POINTS, { message: 'points must be a whole number of points as a string, such as "20"' })
  points: string;

  @ApiPropertyOptional({ example: '50', description: 'With maxPoints: events carry attributes.points within the range' })
  @IsOptional()
  @Matches(WHOLE_POINTS, { message: 'minPoints must be a whole number of points as a string' })
  minPoints?: string;

  @ApiPropertyOptional({ example: '15000' })
  @IsOptional()
  @Matches(WHOLE_POINTS, { message: 'maxPoints must be a whole number of points as a string' })
  maxPoints?: string;

  @ApiPropertyOptional({ default: false, description: 'Accruals wait as pending until the source confirms them' })
  @IsOptional()
  @IsBoolean()
  requiresConfirmation?: boolean;

  @ApiPropertyOptional({ example: '100', description: 'Most points one resident may earn from this rule per day (Europe/Moscow)' })
  @IsOptional()
  @Matches(WHOLE_POINTS, { message: 'dailyCap must be a whole number of points as a string' })
  dailyCap?: string;

  @ApiPropertyOptional({ example: '1000', description: 'Most points one resident may earn from this rule per month (Europe/Moscow)' })
  @IsOptional()
  @Matches(WHOLE_POINTS, { message: 'monthlyCap must be a whole number of points as a string' })
  monthlyCap?: string;

  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @IsISO8601({ strict: true })
  validFrom?: string;

  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @IsISO8601({ strict: true })
  validTo?: string;

  @ApiPropertyOptional({ example: 90, description: 'Days until what this rule pays expires (overrides campaigns and the expiry policy)' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_EXPIRY_DAYS)
  expiresAfterDays?: number;
}

export class UpdateEarningRuleDto {
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(120) title?: string;
  @ApiPropertyOptional({ example: '25' })
  @IsOptional()
  @Matches(WHOLE_POINTS, { message: 'points must be a whole number of points as a string' })
  points?: string;
  @ApiPropertyOptional() @IsOptional() @IsBoolean() requiresConfirmation?: boolean;
  @ApiPropertyOptional({ type: String, nullable: true })
  @IsOptional()
  @Matches(WHOLE_POINTS, { message: 'dailyCap must be a whole number of points as a string' })
  dailyCap?: string;
  @ApiPropertyOptional({ type: String, nullable: true })
  @IsOptional()
  @Matches(WHOLE_POINTS, { message: 'monthlyCap must be a whole number of points as a string' })
  monthlyCap?: string;
  @ApiPropertyOptional({ format: 'date-time' }) @IsOptional() @IsISO8601({ strict: true }) validFrom?: string;
  @ApiPropertyOptional({ format: 'date-time' }) @IsOptional() @IsISO8601({ strict: true }) validTo?: string;
  @ApiPropertyOptional({ type: Number, nullable: true, example: 90, description: 'null: the policy decides again' })
  @IsOptional()
  @ValidateIf((_, v) => v !== null)
  @IsInt()
  @Min(1)
  @Max(MAX_EXPIRY_DAYS)
  expiresAfterDays?: number | null;
}

export class EarningRuleDto {
  @ApiProperty() id: string;
  @ApiProperty() sourceId: string;
  @ApiProperty() eventType: string;
  @ApiProperty({ type: String, nullable: true }) title: string | null;
  @ApiProperty({ example: '20' }) points: string;
  @ApiProperty({ type: String, nullable: true }) minPoints: string | null;
  @ApiProperty({ type: String, nullable: true }) maxPoints: string | null;
  @ApiProperty() requiresConfirmation: boolean;
  @ApiProperty({ type: String, nullable: true }) dailyCap: string | null;
  @ApiProperty({ type: String, nullable: true }) monthlyCap: string | null;
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) validFrom: string | null;
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) validTo: string | null;
  @ApiProperty({ type: Number, nullable: true, description: 'Days until what it pays expires; null: the expiry policy' })
  expiresAfterDays: number | null;

  static of(r: EarningRule): EarningRuleDto {
    const amount = (v: EarningRule['points'] | null) => (v ? formatAmount(v, 0) : null);
    return {
      id: r.id,
      sourceId: r.sourceId,
      eventType: r.eventType,
      title: r.title,
      points: formatAmount(r.points, 0),
      minPoints: amount(r.minPoints),
      maxPoints: amount(r.maxPoints),
      requiresConfirmation: r.requiresConfirmation,
      dailyCap: amount(r.dailyCap),
      monthlyCap: amount(r.monthlyCap),
      validFrom: r.validFrom?.toISOString() ?? null,
      validTo: r.validTo?.toISOString() ?? null,
      expiresAfterDays: r.expiresAfterDays ?? null,
    };
  }
}

export class EarningRulePageDto {
  @ApiProperty({ type: [EarningRuleDto] }) items: EarningRuleDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor: string | null;
}

export class CreateCampaignDto {
  @ApiProperty({ example: 'summer-parks' })
  @IsString()
  @Matches(SLUG_ID, { message: `id must be ${SLUG_ID_HINT}` })
  id: string;

  @ApiProperty({ example: 'Summer in the parks' })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  name: string;

  @ApiPropertyOptional({ example: 'active-citizen' })
  @IsOptional()
  @Matches(SLUG_ID, { message: `sourceId must be ${SLUG_ID_HINT}` })
  sourceId?: string;

  @ApiPropertyOptional({ example: 'vote.cast' })
  @IsOptional()
  @Matches(EVENT_TYPE, { message: `eventType must be ${EVENT_TYPE_HINT}` })
  eventType?: string;

  @ApiProperty({ example: '1.5', description: 'Bonus multiplier; the result is rounded down to whole points' })
  @IsDecimalString()
  multiplier: string;

  @ApiProperty({ format: 'date-time' }) @IsISO8601({ strict: true }) validFrom: string;
  @ApiProperty({ format: 'date-time' }) @IsISO8601({ strict: true }) validTo: string;

  @ApiPropertyOptional({ example: 30, description: "Days until what this campaign pays expires (overrides the policy, not a rule's own)" })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_EXPIRY_DAYS)
  expiresAfterDays?: number;
}

export class CampaignDto {
  @ApiProperty() id: string;
  @ApiProperty() name: string;
  @ApiProperty({ type: String, nullable: true }) sourceId: string | null;
  @ApiProperty({ type: String, nullable: true }) eventType: string | null;
  @ApiProperty({ example: '1.5' }) multiplier: string;
  @ApiProperty({ format: 'date-time' }) validFrom: string;
  @ApiProperty({ format: 'date-time' }) validTo: string;
  @ApiProperty({ type: Number, nullable: true }) expiresAfterDays: number | null;

  static of(c: Campaign): CampaignDto {
    return {
      id: c.id,
      name: c.name,
      sourceId: c.sourceId,
      eventType: c.eventType,
      multiplier: c.multiplier.toFixed(),
      validFrom: c.validFrom.toISOString(),
      validTo: c.validTo.toISOString(),
      expiresAfterDays: c.expiresAfterDays ?? null,
    };
  }
}

export class CampaignPageDto {
  @ApiProperty({ type: [CampaignDto] }) items: CampaignDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor: string | null;
}

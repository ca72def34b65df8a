import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsISO8601, IsNotEmpty, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { WHOLE_POINTS, WHOLE_POINTS_HINT } from '../../common/validators';
import type { AwardRecord } from '../awards.repository';
import { AWARD_STATUSES, type AwardStatus, MAX_DESCRIPTION_LENGTH, MAX_REFERENCE_LENGTH } from '../domain/award';
import { MAX_JSON_ROWS } from '../award-upload';

export class CreateAwardQueryDto {
  @ApiProperty({
    maxLength: MAX_DESCRIPTION_LENGTH,
    example: 'City Day prize draw 2026',
    description: 'What residents see in their history',
  })
  @IsString()
  @IsNotEmpty()
  @MaxLength(MAX_DESCRIPTION_LENGTH)
  description: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'When the awarded points expire (in the future); none: they do not' })
  @IsOptional()
  @IsISO8601({ strict: true })
  expiresAt?: string;

  @ApiPropertyOptional({ example: '5000000', description: `Most points the award may credit in total: ${WHOLE_POINTS_HINT}` })
  @IsOptional()
  @Matches(WHOLE_POINTS, { message: `budget must be ${WHOLE_POINTS_HINT}` })
  budget?: string;
}

export class AwardRowDto {
  @ApiProperty({ example: 'anna-q7x3' })
  residentId: string;

  @ApiProperty({ example: '1000', description: 'Whole points above 0, as a string' })
  points: string;

  @ApiPropertyOptional({ maxLength: MAX_REFERENCE_LENGTH, example: 'ticket-000123', description: 'Tells two rows of one resident apart' })
  reference?: string;
}

/** The JSON form of an upload; text/csv takes `residentId,points[,reference]` a line (a header line is allowed). */
export class UploadAwardDto {
  @ApiProperty({ type: [AwardRowDto], maxItems: MAX_JSON_ROWS, description: `1 to ${MAX_JSON_ROWS} rows; larger awards: text/csv` })
  rows: AwardRowDto[];
}

export class AwardWarningDto {
  @ApiProperty({ example: 'possible_duplicate' })
  code: string;

  @ApiProperty({ example: 'an award with the same rows and description was uploaded before: 5b0d… (done)' })
  detail: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'The earlier award' })
  awardId?: string;
}

export class AwardDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty()
  description: string;

  @ApiProperty({ enum: AWARD_STATUSES })
  status: AwardStatus;

  @ApiProperty({ description: 'Lines uploaded (valid and invalid)', example: 100000 })
  rows: number;

  @ApiProperty({ description: 'Rows that will be (or were) credited', example: 99000 })
  valid: number;

  @ApiProperty({ description: 'Lines refused at upload: see the error file', example: 1000 })
  invalid: number;

  @ApiProperty({ description: 'Points of the valid rows', example: '99000000' })
  totalPoints: string;

  @ApiProperty({ description: 'Rows credited so far', example: 42000 })
  credited: number;

  @ApiProperty({ description: 'Valid rows whose credit the ledger refused (in the error file)', example: 0 })
  failed: number;

  @ApiProperty({ description: 'Points credited so far', example: '42000000' })
  creditedPoints: string;

  @ApiProperty({ nullable: true, type: String, example: '100000000' })
  budget: string | null;

  @ApiProperty({ nullable: true, type: String, format: 'date-time' })
  expiresAt: string | null;

  @ApiProperty({ type: [AwardWarningDto], description: 'What the admin should know before executing (a repeated upload, say)' })
  warnings: AwardWarningDto[];

  @ApiProperty({ nullable: true, type: String, description: 'Why a failed award failed' })
  error: string | null;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  @ApiProperty({ nullable: true, type: String, format: 'date-time' })
  startedAt: string | null;

  @ApiProperty({ nullable: true, type: String, format: 'date-time' })
  completedAt: string | null;

  static of(a: AwardRecord): AwardDto {
    return {
      id: a.id,
      description: a.description,
      status: a.status,
      rows: a.rows,
      valid: a.valid,
      invalid: a.invalid,
      totalPoints: a.totalPoints.toFixed(0),
      credited: a.credited,
      failed: a.failed,
      creditedPoints: a.creditedPoints.toFixed(0),
      budget: a.budget?.toFixed(0) ?? null,
      expiresAt: a.expiresAt?.toISOString() ?? null,
      warnings: warningsOf(a),
      error: a.error,
      createdAt: a.createdAt.toISOString(),
      startedAt: a.startedAt?.toISOString() ?? null,
      completedAt: a.completedAt?.toISOString() ?? null,
    };
  }
}

function warningsOf(a: AwardRecord): AwardWarningDto[] {
  const warnings: AwardWarningDto[] = [];
  if (a.duplicateOf) {
    warnings.push({
      code: 'possible_duplicate',
      detail: `an award with the same rows and description was uploaded before (${a.duplicateOf}): executing this one credits them again`,
      awardId: a.duplicateOf,
    });
  }
  if (a.budget && a.totalPoints.gt(a.budget) && (a.status === 'ready' || a.status === 'validating')) {
    warnings.push({
      code: 'over_budget',
      detail: `the total ${a.totalPoints.toFixed(0)} exceeds the budget ${a.budget.toFixed(0)}: execute will be refused`,
    });
  }
  return warnings;
}

export class AwardPageDto {
  @ApiProperty({ type: [AwardDto] })
  items: AwardDto[];

  @ApiProperty({ nullable: true, type: String })
  nextCursor: string | null;
}

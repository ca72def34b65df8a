import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsIn, IsNumber, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { SLUG_ID, SLUG_ID_HINT } from '../../common/identifiers';
import { WEBHOOK_EVENT_TYPES, WebhookEventType } from '../domain/events';
import { Delivery, DeliveryStatus, Webhook, WebhookStatus } from '../domain/webhook';

export class CreateWebhookDto {
  @ApiProperty({
    example: 'https://notify.example.city/hooks/points',
    description: 'http or https; private and loopback addresses only with WEBHOOK_ALLOW_PRIVATE=true',
  })
  @IsString()
  @MaxLength(2000)
  url: string;

  @ApiProperty({ enum: WEBHOOK_EVENT_TYPES, isArray: true, example: ['earn_event.posted', 'redemption.created'] })
  @ArrayMinSize(1)
  @ArrayMaxSize(32)
  @IsIn(WEBHOOK_EVENT_TYPES, { each: true })
  events: WebhookEventType[];

  @ApiPropertyOptional({ description: "Bound to a partner: only that partner's events, without residents' ids" })
  @IsOptional()
  @IsString()
  @Matches(SLUG_ID, { message: `partnerId must be ${SLUG_ID_HINT}` })
  partnerId?: string;

  @ApiPropertyOptional({ description: "Bound to a source: only that source's events, without residents' ids" })
  @IsOptional()
  @IsString()
  @Matches(SLUG_ID, { message: `sourceId must be ${SLUG_ID_HINT}` })
  sourceId?: string;

  @ApiPropertyOptional({ example: "The city's notification service" })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  description?: string;
}

export class RotateSecretDto {
  @ApiPropertyOptional({
    description: 'How long the old secret keeps signing beside the new one (default WEBHOOK_ROTATION_OVERLAP_HOURS, 24)',
    example: 24,
  })
  @IsOptional()
  @Type(() => Number)
  @IsNumber()
  @Min(0)
  @Max(720)
  overlapHours?: number;
}

export class WebhookDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() url: string;
  @ApiProperty({ enum: WEBHOOK_EVENT_TYPES, isArray: true }) events: WebhookEventType[];
  @ApiProperty({ type: String, nullable: true }) partnerId: string | null;
  @ApiProperty({ type: String, nullable: true }) sourceId: string | null;
  @ApiProperty({ type: String, nullable: true }) description: string | null;
  @ApiProperty({ enum: ['active', 'disabled', 'deleted'], description: 'disabled: the receiver answered 410 Gone' }) status: WebhookStatus;
  @ApiProperty({ type: String, nullable: true }) disabledReason: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'Until then the previous secret signs too' })
  previousSecretUntil: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt: string;

  static of(w: Webhook): WebhookDto {
    return {
      id: w.id,
      url: w.url,
      events: w.events,
      partnerId: w.partnerId,
      sourceId: w.sourceId,
      description: w.description,
      status: w.status,
      disabledReason: w.disabledReason,
      previousSecretUntil: w.previousSecretUntil && w.previousSecretUntil > new Date() ? w.previousSecretUntil.toISOString() : null,
      createdAt: w.createdAt.toISOString(),
    };
  }
}

export class CreatedWebhookDto extends WebhookDto {
  @ApiProperty({ example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', description: 'The signing secret. Shown this once.' })
  secret: string;
}

export class WebhookPageDto {
  @ApiProperty({ type: [WebhookDto] }) items: WebhookDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor: string | null;
}

export class DeliveryDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid', description: 'The event, also sent as webhook-id (the same on every attempt)' }) eventId: string;
  @ApiProperty({ enum: WEBHOOK_EVENT_TYPES }) eventType: WebhookEventType;
  @ApiProperty({
    enum: ['pending', 'delivered', 'failed', 'cancelled'],
    description: 'failed: given up after the retry window, or answered 410',
  })
  status: DeliveryStatus;
  @ApiProperty() attempts: number;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) nextAttemptAt: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) lastAttemptAt: string | null;
  @ApiProperty({ type: Number, nullable: true, description: 'HTTP status of the last answer' }) lastStatus: number | null;
  @ApiProperty({ type: String, nullable: true, description: 'The first 1000 characters of the last answer' }) lastResponse: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'Why the last attempt had no answer (timeout, refused address, ...)' })
  lastError: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) deliveredAt: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt: string;

  static of(d: Delivery): DeliveryDto {
    const iso = (v: Date | null) => v?.toISOString() ?? null;
    return {
      id: d.id,
      eventId: d.eventId,
      eventType: d.eventType,
      status: d.status,
      attempts: d.attempts,
      nextAttemptAt: iso(d.nextAttemptAt),
      lastAttemptAt: iso(d.lastAttemptAt),
      lastStatus: d.lastStatus,
      lastResponse: d.lastResponse,
      lastError: d.lastError,
      deliveredAt: iso(d.deliveredAt),
      createdAt: d.createdAt.toISOString(),
    };
  }
}

export class DeliveryPageDto {
  @ApiProperty({ type: [DeliveryDto] }) items: DeliveryDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor: string | null;
}

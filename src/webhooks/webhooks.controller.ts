import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiAcceptedResponse, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentClient, Roles } from '../common/access';
import { actorOf, ClientPrincipal } from '../common/principal';
import { ApiProblems } from '../common/openapi';
import { PageQueryDto } from '../common/pagination';
import { UUID_PARAM } from '../common/params';
import {
  CreatedWebhookDto,
  CreateWebhookDto,
  DeliveryDto,
  DeliveryPageDto,
  RotateSecretDto,
  WebhookDto,
  WebhookPageDto,
} from './dto/webhook.dto';
import { WebhooksService } from './webhooks.service';

@ApiTags('webhooks')
@Roles('admin')
@Controller('v1/admin/webhooks')
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Post()
  @ApiOperation({ summary: 'Register a webhook: its events are signed with a secret shown once in this answer' })
  @ApiCreatedResponse({ type: CreatedWebhookDto })
  @ApiProblems('validation_failed', 'not_found')
  async create(@CurrentClient() admin: ClientPrincipal, @Body() body: CreateWebhookDto): Promise<CreatedWebhookDto> {
    const { webhook, secret } = await this.webhooks.create(actorOf(admin), body);
    return { ...WebhookDto.of(webhook), secret };
  }

  @Get()
  @ApiOperation({ summary: 'List webhooks' })
  @ApiOkResponse({ type: WebhookPageDto })
  @ApiProblems('validation_failed')
  async list(@Query() query: PageQueryDto): Promise<WebhookPageDto> {
    const page = await this.webhooks.list(query.limit, query.cursor);
    return { items: page.items.map(WebhookDto.of), nextCursor: page.nextCursor };
  }

  @Get(':id')
  @ApiOperation({ summary: 'A webhook' })
  @ApiOkResponse({ type: WebhookDto })
  @ApiProblems('validation_failed', 'not_found')
  async get(@Param('id', UUID_PARAM) id: string): Promise<WebhookDto> {
    return WebhookDto.of(await this.webhooks.get(id));
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Delete a webhook: nothing more is sent to it; what it still had to receive is cancelled' })
  @ApiOkResponse({ type: WebhookDto })
  @ApiProblems('validation_failed', 'not_found')
  async delete(@CurrentClient() admin: ClientPrincipal, @Param('id', UUID_PARAM) id: string): Promise<WebhookDto> {
    return WebhookDto.of(await this.webhooks.delete(actorOf(admin), id));
  }

  @Post(':id/rotate-secret')
  @HttpCode(200)
  @ApiOperation({ summary: 'A new secret, shown once; the old one keeps signing beside it for the overlap (two signatures)' })
  @ApiOkResponse({ type: CreatedWebhookDto })
  @ApiProblems('validation_failed', 'not_found')
  async rotate(
    @CurrentClient() admin: ClientPrincipal,
    @Param('id', UUID_PARAM) id: string,
    @Body() body: RotateSecretDto,
  ): Promise<CreatedWebhookDto> {
    const { webhook, secret } = await this.webhooks.rotateSecret(actorOf(admin), id, body.overlapHours);
    return { ...WebhookDto.of(webhook), secret };
  }

  @Get(':id/deliveries')
  @ApiOperation({ summary: "A webhook's deliveries, newest first: status, attempts and the last answer" })
  @ApiOkResponse({ type: DeliveryPageDto })
  @ApiProblems('validation_failed', 'not_found')
  async deliveries(@Param('id', UUID_PARAM) id: string, @Query() query: PageQueryDto): Promise<DeliveryPageDto> {
    const page = await this.webhooks.deliveries(id, query.limit, query.cursor);
    return { items: page.items.map(DeliveryDto.of), nextCursor: page.nextCursor };
  }

  @Post(':id/deliveries/:deliveryId/retry')
  @HttpCode(202)
  @ApiOperation({ summary: 'Send a delivery again, now (after it failed, or when the receiver lost it)' })
  @ApiAcceptedResponse({ type: DeliveryDto })
  @ApiProblems('validation_failed', 'not_found', 'invalid_state')
  async retry(
    @CurrentClient() admin: ClientPrincipal,
    @Param('id', UUID_PARAM) id: string,
    @Param('deliveryId', UUID_PARAM) deliveryId: string,
  ): Promise<DeliveryDto> {
    return DeliveryDto.of(await this.webhooks.retry(actorOf(admin), id, deliveryId));
  }
}

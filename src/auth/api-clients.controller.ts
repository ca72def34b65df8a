import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { UUID_PARAM } from '../common/params';
import { ApiProblems } from '../common/openapi';
import { PageQueryDto } from '../common/pagination';
import { CurrentClient, Roles } from '../common/access';
import { ApiClientsService } from './api-clients.service';
import { actorOf, ClientPrincipal } from '../common/principal';
import { ApiClientDto, ApiClientPageDto, CreateApiClientDto, CreatedApiClientDto } from './dto/api-client.dto';

@ApiTags('admin')
@Roles('admin')
@Controller('v1/admin/api-clients')
export class ApiClientsController {
  constructor(private readonly apiClients: ApiClientsService) {}

  @Post()
  @ApiOperation({ summary: 'Create an API client; its key is shown once' })
  @ApiCreatedResponse({ type: CreatedApiClientDto })
  @ApiProblems('validation_failed', 'not_found')
  async create(@CurrentClient() admin: ClientPrincipal, @Body() body: CreateApiClientDto): Promise<CreatedApiClientDto> {
    const { client, apiKey } = await this.apiClients.create(actorOf(admin), body);
    return { ...ApiClientDto.of(client), apiKey };
  }

  @Get()
  @ApiOperation({ summary: 'List API clients (keys are never shown again)' })
  @ApiOkResponse({ type: ApiClientPageDto })
  @ApiProblems('validation_failed')
  async list(@Query() query: PageQueryDto): Promise<ApiClientPageDto> {
    const page = await this.apiClients.list(query.limit, query.cursor);
    return { items: page.items.map(ApiClientDto.of), nextCursor: page.nextCursor };
  }

  @Delete(':id')
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke an API client: its key stops working' })
  @ApiOkResponse({ type: ApiClientDto })
  @ApiProblems('validation_failed', 'not_found')
  async revoke(@CurrentClient() admin: ClientPrincipal, @Param('id', UUID_PARAM) id: string): Promise<ApiClientDto> {
    return ApiClientDto.of(await this.apiClients.revoke(actorOf(admin), id));
  }
}

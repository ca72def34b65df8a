import { Body, Controller, Get, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentClient, Roles } from '../common/access';
import { actorOf, ClientPrincipal } from '../common/principal';
import { ApiProblems } from '../common/openapi';
import { PageQueryDto } from '../common/pagination';
import { CreatePartnerDto, CreateSourceDto, PartnerDto, PartnerPageDto, SourceDto, SourcePageDto } from './dto/programme.dto';
import { ProgrammeService } from './programme.service';

@ApiTags('admin')
@Roles('admin')
@Controller('v1/admin')
export class ProgrammeController {
  constructor(private readonly programme: ProgrammeService) {}

  @Post('sources')
  @ApiOperation({ summary: 'Register a participation service (a source of earn events)' })
  @ApiCreatedResponse({ type: SourceDto })
  @ApiProblems('validation_failed', 'already_exists')
  async createSource(@CurrentClient() admin: ClientPrincipal, @Body() body: CreateSourceDto): Promise<SourceDto> {
    return SourceDto.of(await this.programme.createSource(actorOf(admin), body));
  }

  @Get('sources')
  @ApiOperation({ summary: 'List participation services' })
  @ApiOkResponse({ type: SourcePageDto })
  @ApiProblems('validation_failed')
  async listSources(@Query() query: PageQueryDto): Promise<SourcePageDto> {
    const page = await this.programme.listSources(query.limit, query.cursor);
    return { items: page.items.map(SourceDto.of), nextCursor: page.nextCursor };
  }

  @Post('partners')
  @ApiOperation({ summary: 'Register a partner (shop, cafe, museum, park, charity)' })
  @ApiCreatedResponse({ type: PartnerDto })
  @ApiProblems('validation_failed', 'already_exists')
  async createPartner(@CurrentClient() admin: ClientPrincipal, @Body() body: CreatePartnerDto): Promise<PartnerDto> {
    return PartnerDto.of(await this.programme.createPartner(actorOf(admin), body));
  }

  @Get('partners')
  @ApiOperation({ summary: 'List partners' })
  @ApiOkResponse({ type: PartnerPageDto })
  @ApiProblems('validation_failed')
  async listPartners(@Query() query: PageQueryDto): Promise<PartnerPageDto> {
    const page = await this.programme.listPartners(query.limit, query.cursor);
    return { items: page.items.map(PartnerDto.of), nextCursor: page.nextCursor };
  }
}

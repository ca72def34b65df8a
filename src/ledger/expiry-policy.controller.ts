import { Body, Controller, Get, Put } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Roles } from '../auth/access.decorators';
import { ApiProblems } from '../common/openapi';
import { ExpiryPolicyDto } from './dto/expiry.dto';
import { LedgerService } from './ledger.service';

@ApiTags('admin')
@Roles('admin')
@Controller('v1/admin/expiry-policy')
export class ExpiryPolicyController {
  constructor(private readonly ledger: LedgerService) {}

  @Get()
  @ApiOperation({ summary: 'The points expiry policy (default: no expiry)' })
  @ApiOkResponse({ type: ExpiryPolicyDto })
  async get(): Promise<ExpiryPolicyDto> {
    return ExpiryPolicyDto.of(await this.ledger.expiryPolicy());
  }

  @Put()
  @ApiOperation({ summary: 'Set the points expiry policy: it applies to points credited afterwards, never to points already held' })
  @ApiOkResponse({ type: ExpiryPolicyDto })
  @ApiProblems('validation_failed')
  async put(@Body() body: ExpiryPolicyDto): Promise<ExpiryPolicyDto> {
    return ExpiryPolicyDto.of(await this.ledger.setExpiryPolicy(body));
  }
}

import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { CurrentResident, ResidentOnly } from '../auth/access.decorators';
import { ResidentPrincipal } from '../auth/domain/principal';

export class ResidentDto {
  @ApiProperty({ example: 'anna' }) residentId: string;
}

@ApiTags('residents')
@ResidentOnly()
@Controller('v1/me')
export class ResidentsController {
  @Get()
  @ApiOperation({ summary: 'The signed-in resident (checks a token)' })
  @ApiOkResponse({ type: ResidentDto })
  me(@CurrentResident() resident: ResidentPrincipal): ResidentDto {
    return { residentId: resident.residentId };
  }
}

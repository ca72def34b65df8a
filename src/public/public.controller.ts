import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { Public } from '../common/access';
import { formatAmount } from '../common/money';
import { PublicStatsService } from './public-stats.service';

class FundDto {
  @ApiProperty() fundId: string;
  @ApiProperty({ example: '1500' }) points: string;
}

class DayDto {
  @ApiProperty({ example: '2026-11-22' }) date: string;
  @ApiProperty({ example: '12000' }) issued: string;
  @ApiProperty({ example: '3000' }) redeemed: string;
  @ApiProperty({ example: '500' }) donated: string;
}

export class ProgrammeStatsDto {
  @ApiProperty({ format: 'date-time' }) asOf: string;
  @ApiProperty({ example: '1000000', description: 'Points issued to residents, net of revoked accruals' }) issued: string;
  @ApiProperty({ example: '400000', description: 'Points spent with partners' }) redeemed: string;
  @ApiProperty({ type: [FundDto], description: 'Points donated, per charity fund (1 point = 1 rouble)' }) donated: FundDto[];
  @ApiProperty({ example: '550000', description: 'Points residents hold now' }) outstanding: string;
  @ApiProperty({ example: 12000 }) residentsWithBalance: number;
  @ApiProperty({ type: [DayDto], description: 'The last 30 days, Moscow calendar' }) perDay: DayDto[];
}

@ApiTags('public')
@Public()
@Controller('v1/public')
export class PublicController {
  constructor(private readonly stats: PublicStatsService) {}

  @Get('stats')
  @ApiOperation({ summary: 'Programme totals: points issued, redeemed, donated per fund, outstanding, residents' })
  @ApiOkResponse({ type: ProgrammeStatsDto })
  async get(): Promise<ProgrammeStatsDto> {
    const s = await this.stats.stats();
    const f = (v: Parameters<typeof formatAmount>[0]) => formatAmount(v, 0);
    return {
      asOf: s.asOf.toISOString(),
      issued: f(s.issued),
      redeemed: f(s.redeemed),
      donated: s.donated.map((d) => ({ fundId: d.fundId, points: f(d.points) })),
      outstanding: f(s.outstanding),
      residentsWithBalance: s.residentsWithBalance,
      perDay: s.perDay.map((d) => ({ date: d.date, issued: f(d.issued), redeemed: f(d.redeemed), donated: f(d.donated) })),
    };
  }
}

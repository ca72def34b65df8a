import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import Redis from 'ioredis';
import { Public } from '../../common/access';
import { untilAborted } from '../../common/abort';
import { ApiProblems } from '../../common/openapi';
import { PrismaService } from '../database/prisma.service';
import { REDIS } from '../queue/queue.module';

const CHECK_TIMEOUT_MS = 2000;

@ApiTags('operations')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly prisma: PrismaService,
    @Inject(REDIS) private readonly redis: Redis | null,
  ) {}

  @Get('live')
  @ApiOperation({ summary: 'Liveness: the process answers' })
  @ApiOkResponse({ schema: { example: { status: 'ok' } } })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @HealthCheck({ swaggerDocumentation: false })
  @ApiOperation({ summary: 'Readiness: the database and the queue answer' })
  @ApiOkResponse({ schema: { example: { status: 'ok', info: { database: { status: 'up' }, queue: { status: 'up' } } } } })
  @ApiProblems('service_unavailable')
  ready() {
    return this.health.check([() => this.database(), () => this.queue()]);
  }

  private async database() {
    const check = this.indicators.check('database');
    try {
      await untilAborted(this.prisma.$queryRaw`SELECT 1`, AbortSignal.timeout(CHECK_TIMEOUT_MS));
      return check.up();
    } catch {
      return check.down({ message: 'database does not answer' });
    }
  }

  private async queue() {
    const check = this.indicators.check('queue');
    if (!this.redis) return check.up({ mode: 'in-process' });
    try {
      const deadline = AbortSignal.timeout(CHECK_TIMEOUT_MS);
      if (this.redis.status === 'wait') await untilAborted(this.redis.connect(), deadline);
      await untilAborted(this.redis.ping(), deadline);
      return check.up({ mode: 'redis' });
    } catch {
      return check.down({ mode: 'redis', message: 'Redis does not answer' });
    }
  }
}

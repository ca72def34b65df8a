import { Controller, Get, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { CurrentPageUser, PageController, PageFrames, PageRequest } from './page-access';
import { PageUser } from './sessions/session';

/** The finance console's place (issue 20 builds it): auditors and admins only, already behind sessions and roles. */
@PageController('auditor', 'admin')
@Controller('app/finance')
export class FinancePagesController {
  constructor(private readonly frames: PageFrames) {}

  @Get()
  page(@Req() req: Request & PageRequest, @Res() res: Response, @CurrentPageUser() user: PageUser): void {
    this.frames.send(req, res, 'finance', (l) => l.t('finance.title'), {
      who: user.kind === 'client' ? user.name : '',
      role: user.kind === 'client' ? user.role : '',
    });
  }
}

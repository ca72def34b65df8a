import { Body, Controller, Get, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { CurrentPageUser, PageController, PageFrames, PageRequest } from '../page-access';
import { PageUser } from '../sessions/session';
import { TillCodeView, TillPagesService } from './till-pages.service';

const partnerOf = (user: PageUser) => (user.kind === 'client' && user.partnerId ? user.partnerId : '');

/**
 * The partners' till: one field a scanner types into and submits with Enter (a GET: a check is
 * one request), the code's state in `data-status`, one button that redeems (a POST).
 */
@PageController('partner')
@Controller('app/till')
export class TillPagesController {
  constructor(
    private readonly till: TillPagesService,
    private readonly frames: PageFrames,
  ) {}

  @Get()
  async page(
    @Req() req: Request & PageRequest,
    @Res() res: Response,
    @CurrentPageUser() user: PageUser,
    @Query('code') code?: string,
  ): Promise<void> {
    const partnerId = partnerOf(user);
    const checked = typeof code === 'string' && code.trim() !== '' ? await this.till.lookup(partnerId, code) : null;
    await this.render(req, res, user, checked, null);
  }

  @Post('redeem')
  async redeem(
    @Req() req: Request & PageRequest,
    @Res() res: Response,
    @CurrentPageUser() user: PageUser,
    @Body() body: Record<string, unknown>,
  ): Promise<void> {
    const code = typeof body?.code === 'string' ? body.code : '';
    const { won, view } = await this.till.redeem(partnerOf(user), code);
    await this.render(req, res, user, view, won, won ? 200 : 409);
  }

  private async render(
    req: Request & PageRequest,
    res: Response,
    user: PageUser,
    checked: TillCodeView | null,
    won: boolean | null,
    status = 200,
  ) {
    const partnerId = partnerOf(user);
    const [today, month, partnerName] = await Promise.all([
      this.till.today(partnerId),
      this.till.month(partnerId),
      this.till.partnerName(partnerId),
    ]);
    this.frames.send(req, res, 'till', (l) => l.t('till.title'), { checked, won, today, month, partnerName }, status);
  }
}

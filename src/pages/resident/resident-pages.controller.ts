import { Body, Controller, Get, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import { SLUG_ID } from '../../common/identifiers';
import { notFound } from '../../common/errors';
import { Language } from '../i18n/messages';
import { CurrentPageUser, PageController, PageFrames, PageRequest } from '../page-access';
import { PageUser } from '../sessions/session';
import { ResidentPagesService } from './resident-pages.service';

type Form = Record<string, unknown>;
const field = (body: Form | undefined, name: string): string => (typeof body?.[name] === 'string' ? body[name] : '');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const residentOf = (user: PageUser) => (user.kind === 'resident' ? user.residentId : '');
const cursorOf = (v: unknown) => (typeof v === 'string' && /^[A-Za-z0-9_-]{1,512}$/.test(v) ? v : undefined);

/** The residents' pages: balance, catalogue by category, redeem, codes, donations, history. */
@PageController('resident')
@Controller('app')
export class ResidentPagesController {
  constructor(
    private readonly pages: ResidentPagesService,
    private readonly frames: PageFrames,
  ) {}

  @Get()
  async home(@Req() req: Request & PageRequest, @Res() res: Response, @CurrentPageUser() user: PageUser): Promise<void> {
    const id = residentOf(user);
    const [balance, categories, recent] = await Promise.all([
      this.pages.balance(id),
      this.pages.categoryList(res.locals.lang as Language),
      this.pages.recent(id),
    ]);
    this.frames.send(req, res, 'home', (l) => l.t('home.title'), { residentId: id, balance, categories, recent });
  }

  @Get('catalogue')
  async catalogue(
    @Req() req: Request & PageRequest,
    @Res() res: Response,
    @CurrentPageUser() user: PageUser,
    @Query('category') category?: string,
  ): Promise<void> {
    const id = residentOf(user);
    const categories = await this.pages.categoryList(res.locals.lang as Language);
    const selected = typeof category === 'string' && SLUG_ID.test(category) ? categories.find((c) => c.id === category) : undefined;
    if (category !== undefined && !selected) throw notFound(`category ${String(category)}`);
    const [balance, offers] = await Promise.all([this.pages.balance(id), this.pages.offers(id, selected?.id)]);
    this.frames.send(req, res, 'catalogue', (l) => selected?.name ?? l.t('catalogue.title'), { categories, selected, balance, offers });
  }

  @Get('redeem/:itemId')
  async confirm(
    @Req() req: Request & PageRequest,
    @Res() res: Response,
    @CurrentPageUser() user: PageUser,
    @Param('itemId') itemId: string,
  ): Promise<void> {
    if (!SLUG_ID.test(itemId)) throw notFound('item');
    const id = residentOf(user);
    const [offer, balance] = await Promise.all([this.pages.offer(id, itemId), this.pages.balance(id)]);
    const title = (l: { t(k: 'redeem.title' | 'donate.title'): string }) =>
      l.t(offer.kind === 'DONATION' ? 'donate.title' : 'redeem.title');
    this.frames.send(req, res, 'redeem', title, { offer, balance, formKey: randomUUID() });
  }

  @Post('redeem/:itemId')
  async redeem(
    @Req() req: Request & PageRequest,
    @Res() res: Response,
    @CurrentPageUser() user: PageUser,
    @Param('itemId') itemId: string,
    @Body() body: Form,
  ): Promise<void> {
    if (!SLUG_ID.test(itemId)) throw notFound('item');
    const id = residentOf(user);
    const formKey = UUID.test(field(body, 'formKey')) ? field(body, 'formKey') : randomUUID();
    const offer = await this.pages.offer(id, itemId);
    const outcome =
      offer.kind === 'DONATION'
        ? await this.pages.donate(id, itemId, field(body, 'amount').trim(), formKey)
        : await this.pages.redeem(id, itemId, formKey);
    if ('id' in outcome) return res.redirect(303, `/app/codes/${outcome.id}${offer.kind === 'DONATION' ? '?donated=1' : ''}`);
    const balance = await this.pages.balance(id);
    this.frames.send(req, res, 'redeem', (l) => l.t('refusal.title'), { offer, balance, formKey: randomUUID(), refusal: outcome }, 409);
  }

  @Get('codes')
  async codes(
    @Req() req: Request & PageRequest,
    @Res() res: Response,
    @CurrentPageUser() user: PageUser,
    @Query('cursor') cursor?: string,
  ): Promise<void> {
    const page = await this.pages.codes(residentOf(user), cursorOf(cursor));
    this.frames.send(req, res, 'codes', (l) => l.t('codes.title'), { page });
  }

  @Get('codes/:id')
  async code(
    @Req() req: Request & PageRequest,
    @Res() res: Response,
    @CurrentPageUser() user: PageUser,
    @Param('id') id: string,
    @Query() query: Record<string, string>,
  ): Promise<void> {
    const redemption = await this.pages.redemption(residentOf(user), id);
    this.frames.send(req, res, 'code', () => redemption.title, {
      r: redemption,
      donated: query.donated === '1',
      cancelled: query.cancelled === '1',
    });
  }

  @Post('codes/:id/cancel')
  async cancel(
    @Req() req: Request & PageRequest,
    @Res() res: Response,
    @CurrentPageUser() user: PageUser,
    @Param('id') id: string,
  ): Promise<void> {
    if (!UUID.test(id)) throw notFound('redemption');
    const refusal = await this.pages.cancel(residentOf(user), id);
    if (!refusal) return res.redirect(303, `/app/codes/${id}?cancelled=1`);
    const redemption = await this.pages.redemption(residentOf(user), id);
    this.frames.send(req, res, 'code', () => redemption.title, { r: redemption, refusal }, 409);
  }

  @Get('history')
  async history(
    @Req() req: Request & PageRequest,
    @Res() res: Response,
    @CurrentPageUser() user: PageUser,
    @Query('cursor') cursor?: string,
  ): Promise<void> {
    const page = await this.pages.history(residentOf(user), cursorOf(cursor));
    this.frames.send(req, res, 'history', (l) => l.t('history.title'), { page, first: cursor === undefined });
  }
}

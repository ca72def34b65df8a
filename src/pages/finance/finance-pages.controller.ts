import { Controller, Get, Param, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { CurrentPageUser, PageController, PageFrames, PageRequest, PageRoles } from '../page-access';
import { PageUser } from '../sessions/session';
import { FinancePagesService, STATEMENT_LINES } from './finance-pages.service';

const actorOf = (user: PageUser) =>
  user.kind === 'client' ? (user.clientId ? `client:${user.clientId}` : 'bootstrap-admin') : `resident:${user.residentId}`;
const canRun = (user: PageUser) => user.kind === 'client' && user.role === 'admin';
const safeName = (text: string) => text.replace(/[^A-Za-z0-9_-]/g, '_');

/**
 * The finance console: auditors read everything, admins may also start a reconciliation. Every
 * page reads through FinancePagesService; the only write is the admin's "run now" (a form post
 * with its CSRF token, refused to an auditor with 403 like the rest of the role rules).
 */
@PageController('auditor', 'admin')
@Controller('app/finance')
export class FinancePagesController {
  constructor(
    private readonly finance: FinancePagesService,
    private readonly frames: PageFrames,
  ) {}

  @Get()
  async overview(@Req() req: Request & PageRequest, @Res() res: Response, @CurrentPageUser() user: PageUser): Promise<void> {
    const view = await this.finance.overview(req.query.from, req.query.to);
    this.frames.send(req, res, 'finance/overview', (l) => l.t('finance.title'), { ...view, section: 'overview', canRun: canRun(user) });
  }

  @Get('trial-balance')
  async trialBalance(@Req() req: Request & PageRequest, @Res() res: Response): Promise<void> {
    const view = await this.finance.trialBalance(req.query.asOf, req.query.sort, req.query.dir);
    this.frames.send(req, res, 'finance/trial-balance', (l) => l.t('finance.trial.title'), { ...view, section: 'trial' });
  }

  @Get('trial-balance.csv')
  async trialBalanceCsv(@Req() req: Request, @Res() res: Response): Promise<void> {
    const { csv, asOf } = await this.finance.trialBalanceCsv(req.query.asOf);
    res.setHeader('Content-Disposition', `attachment; filename="trial-balance-${safeName(asOf.toISOString())}.csv"`);
    res.type('text/csv; charset=utf-8').send(csv);
  }

  @Get('liability')
  async liability(@Req() req: Request & PageRequest, @Res() res: Response): Promise<void> {
    const view = await this.finance.liability(req.query.asOf);
    this.frames.send(req, res, 'finance/liability', (l) => l.t('finance.liability.title'), { ...view, section: 'liability' });
  }

  @Get('awards')
  async awards(@Req() req: Request & PageRequest, @Res() res: Response): Promise<void> {
    const awards = await this.finance.latestAwards();
    this.frames.send(req, res, 'finance/awards', (l) => l.t('finance.awards.title'), { awards, section: 'awards' });
  }

  @Get('accounts')
  async accounts(@Req() req: Request & PageRequest, @Res() res: Response): Promise<void> {
    const view = await this.finance.accounts(req.query.q);
    this.frames.send(req, res, 'finance/accounts', (l) => l.t('finance.accounts.title'), { ...view, section: 'accounts' });
  }

  @Get('statement')
  async statement(@Req() req: Request & PageRequest, @Res() res: Response): Promise<void> {
    const view = await this.finance.statement(req.query.account, req.query.from, req.query.to);
    this.frames.send(req, res, 'finance/statement', (l) => l.t('finance.statement.title'), {
      ...view,
      section: 'accounts',
      shown: STATEMENT_LINES,
    });
  }

  @Get('statement.csv')
  async statementCsv(@Req() req: Request, @Res() res: Response): Promise<void> {
    const account = typeof req.query.account === 'string' ? req.query.account : '';
    res.setHeader('Content-Type', 'text/csv; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="statement-${safeName(account)}.csv"`);
    await this.finance.statementCsv(req.query.account, req.query.from, req.query.to, res);
    res.end();
  }

  @Get('transactions/:id')
  async transaction(@Req() req: Request & PageRequest, @Res() res: Response, @Param('id') id: string): Promise<void> {
    const view = await this.finance.transaction(id);
    this.frames.send(req, res, 'finance/transaction', (l) => l.t('finance.tx.title'), { ...view, section: 'accounts' });
  }

  @Get('transactions/:id/proof.json')
  async proof(@Res() res: Response, @Param('id') id: string): Promise<void> {
    const proof = await this.finance.proof(id);
    res.setHeader('Content-Disposition', `attachment; filename="proof-${safeName(id)}.json"`);
    res.type('application/json').send(JSON.stringify(proof, null, 2));
  }

  @Get('reconciliations')
  async runs(@Req() req: Request & PageRequest, @Res() res: Response, @CurrentPageUser() user: PageUser): Promise<void> {
    const runs = await this.finance.runs();
    this.frames.send(req, res, 'finance/reconciliations', (l) => l.t('finance.runs.title'), {
      runs,
      section: 'runs',
      canRun: canRun(user),
    });
  }

  @Get('reconciliations/:id')
  async run(@Req() req: Request & PageRequest, @Res() res: Response, @Param('id') id: string): Promise<void> {
    const run = await this.finance.run(id);
    // a running run's page refreshes itself until it has finished (no script needed)
    this.frames.send(req, res, 'finance/reconciliation', (l) => l.t('finance.run.title'), {
      run,
      section: 'runs',
      refresh: run.status === 'running' ? 2 : null,
    });
  }

  @Post('reconciliations')
  @PageRoles('admin')
  async start(@Res() res: Response, @CurrentPageUser() user: PageUser): Promise<void> {
    const run = await this.finance.startRun(actorOf(user));
    res.redirect(303, `/app/finance/reconciliations/${run.id}`);
  }
}

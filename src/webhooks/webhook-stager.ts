import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/config';
import { ForegroundWork } from '../infra/process/foreground-work';
import { FOREGROUND_GAP_MS } from './pacing';
import { PublishFence } from './publish-fence';
import { WebhooksRepository } from './webhooks.repository';

/** Staged rows, and events, one expansion step takes at most (a thousand-event earn batch is one row). */
const STEP_ROWS = 64;
const STEP_EVENTS = 8_000;
/** The same while this process posts earn batches: about one batch's worth. */
const BUSY_STEP_EVENTS = 1_000;
/** How long the dispatcher's pass expands before it hands webhooks out. */
const PASS_BUDGET_MS = 2_000;

/** What a step of the stager did. */
export interface StageRun {
  /** events written (with their deliveries) */
  events: number;
  /** staged rows are left: beyond the known-final position (their writers' transactions still running), or beyond the step's budget */
  waiting: boolean;
}

/**
 * Expands the outbox's staged rows into events and deliveries (migration 20261209100000): the
 * change's transaction wrote one row per publishing statement; here, after commit, up to the
 * position known final (its own PublishFence over the staged rows' positions), in position order.
 * Steps are taken by the dispatcher's pass (until nothing is left, for PASS_BUDGET_MS at most), by a
 * served webhook that found nothing due, and while a round is sent when no earn batches run (the
 * next step is expanded while the last is sent); one step at a time in a process (a second caller
 * shares it), one expander at a time in the database. While this process posts earn batches a
 * step is about a batch, and the drain, paced by WEBHOOK_BUSY_SHARE, asks for the next when it has
 * sent it; the rest follows once the batches stop.
 */
@Injectable()
export class WebhookStager {
  private readonly fence = new PublishFence();
  private current: Promise<StageRun> | null = null;

  constructor(
    private readonly repository: WebhooksRepository,
    private readonly foreground: ForegroundWork,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * One step: expands what is staged and known final, up to a step's worth (a caller arriving
   * while a step runs shares it, so that it waits for one step at most).
   */
  stage(): Promise<StageRun> {
    this.current ??= this.step().finally(() => (this.current = null));
    return this.current;
  }

  /** Steps until nothing more is staged and final, the earn batches start, or PASS_BUDGET_MS (the dispatcher's pass). */
  async drain(): Promise<number> {
    const started = performance.now();
    let events = 0;
    for (;;) {
      const run = await this.stage();
      events += run.events;
      if (run.events === 0 || this.busy() || performance.now() - started >= PASS_BUDGET_MS) return events;
    }
  }

  private busy(): boolean {
    return this.config.webhooks.busyShare < 1 && this.foreground.busy(FOREGROUND_GAP_MS);
  }

  private async step(): Promise<StageRun> {
    for (let looks = 0; ; looks++) {
      const step = await this.repository.materialize(this.fence.safe, STEP_ROWS, this.busy() ? BUSY_STEP_EVENTS : STEP_EVENTS);
      const moved = this.fence.observe(step.fence);
      // nothing was final yet but the fence just moved: one more look (another process expanding,
      // staged -1, does the work itself)
      if (step.staged === 0 && moved && looks === 0) continue;
      return { events: step.events, waiting: step.left };
    }
  }
}

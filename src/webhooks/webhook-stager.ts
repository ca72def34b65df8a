import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/config';
import { ForegroundWork } from '../infra/process/foreground-work';
import { FOREGROUND_GAP_MS } from './pacing';
import { PublishFence } from './publish-fence';
import { WebhooksRepository } from './webhooks.repository';

/** Staged rows, and events, one expansion statement takes at most (a thousand-event earn batch is one row). */
const STEP_ROWS = 64;
const STEP_EVENTS = 16_000;
/** The same while this process posts earn batches: about one batch's worth a run. */
const BUSY_STEP_EVENTS = 1_000;
/** How long one run expands before it returns (its caller's next pass goes on). */
const RUN_BUDGET_MS = 2_000;

/** What a run of the stager did. */
export interface StageRun {
  /** events written (with their deliveries) */
  events: number;
  /** staged rows are left: beyond the known-final position (their writers' transactions still running), or beyond the run's budget */
  waiting: boolean;
}

/**
 * Expands the outbox's staged rows into events and deliveries (migration 20261209100000): the
 * change's transaction wrote one row per publishing statement; here, after commit, up to the
 * position known final (its own PublishFence over the staged rows' positions), in position order.
 * Called by the dispatcher's pass, by a served webhook that found nothing due, and while a round is
 * sent when no earn batches run; one run at a time in a process (a second caller shares the run),
 * one expander at a time in the database. While this process posts earn batches a run takes one
 * step of about a batch (the drain, paced by WEBHOOK_BUSY_SHARE, asks for the next when it has sent
 * it), the rest once the batches stop.
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

  /** Expands what is staged and known final. */
  stage(): Promise<StageRun> {
    this.current ??= this.run().finally(() => (this.current = null));
    return this.current;
  }

  private async run(): Promise<StageRun> {
    const started = performance.now();
    let events = 0;
    for (;;) {
      const busy = this.config.webhooks.busyShare < 1 && this.foreground.busy(FOREGROUND_GAP_MS);
      const step = await this.repository.materialize(this.fence.safe, STEP_ROWS, busy ? BUSY_STEP_EVENTS : STEP_EVENTS);
      const moved = this.fence.observe(step.fence);
      events += step.events;
      // another process expanding (staged -1) does the work: this run stops
      const more = step.staged > 0 || (step.staged === 0 && moved);
      if (!more || busy || performance.now() - started >= RUN_BUDGET_MS) return { events, waiting: step.left };
    }
  }
}

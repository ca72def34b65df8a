import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/config';
import { TransactionHost } from '../infra/database/transaction-host';
import { ForegroundWork } from '../infra/process/foreground-work';
import { payloadFor } from './domain/events';
import { nextAttemptAt, RetryPolicy } from './domain/retry';
import { AttemptOutcome } from './domain/webhook';
import { FOREGROUND_GAP_MS, PACE_MAX_WAIT_MS } from './pacing';
import { PublishFence } from './publish-fence';
import { SecretBox } from './secret-box';
import { WebhookMetrics } from './webhook-metrics';
import { Target, UnsafeUrlError, WebhookSender } from './webhook-sender';
import { WebhookStager } from './webhook-stager';
import { Round, RoundDelivery, RoundOutcome, ServedWebhook, WebhooksRepository } from './webhooks.repository';

/** Rounds of one webhook's deliveries hold at most this many of its attempts' worth (WEBHOOK_PER_ENDPOINT each). */
const ROUND_WAVES = 16;
/** How long one hand-off serves its webhook before giving it back (so that, with more webhooks than slots, each gets its turn). */
export const SERVE_BUDGET_MS = 10_000;
/** How long a holder waits before looking again when its due heads are beyond the fence (their writers still running). */
const FENCE_WAIT_MS = 25;
/** The same for staged outbox rows while earn batches run (their writers are the batches: no hurry, the drain gives way). */
const PACED_STAGE_WAIT_MS = 250;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const clip = (text: string | null, n: number) => (text === null ? null : text.slice(0, n));

/**
 * Serves one webhook for a while: rounds of its due deliveries, each the first pending one of its
 * resident, sent up to WEBHOOK_PER_ENDPOINT at once and recorded together in one statement. Runs
 * outside any business transaction; the HTTP calls hold no database connection. Called by the
 * queue consumer (any worker) or the in-process runner, with a webhook the dispatcher handed out.
 */
@Injectable()
export class DeliveryService {
  private readonly logger = new Logger('WebhookDelivery');
  private readonly policy: RetryPolicy;
  /** the outbox's positions known final, for every webhook this process serves */
  private readonly fence = new PublishFence();

  constructor(
    private readonly repository: WebhooksRepository,
    private readonly transactions: TransactionHost,
    private readonly sender: WebhookSender,
    private readonly secrets: SecretBox,
    private readonly metrics: WebhookMetrics,
    private readonly foreground: ForegroundWork,
    private readonly stager: WebhookStager,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.policy = {
      baseMs: config.webhooks.retryBaseMs,
      maxMs: config.webhooks.retryMaxMs,
      giveUpAfterMs: config.webhooks.retryHours * 3_600_000,
    };
  }

  /**
   * Serves a handed-out webhook until nothing of it is due, its time is used, its hand-off was
   * taken over (a stale job: it does nothing) or it was ended. Returns how many attempts it made.
   */
  async serve(served: ServedWebhook): Promise<number> {
    const { perEndpoint, leaseSeconds } = this.config.webhooks;
    const started = Date.now();
    let attempts = 0;
    // a round's outcomes are written while the next round is read and sent (never two at once)
    let recording: { ids: string[]; done: Promise<void> } = { ids: [], done: Promise.resolve() };
    let unrecorded: Error | null = null;
    const record = (outcomes: RoundOutcome[]) => ({
      ids: outcomes.map((o) => o.id),
      done: this.repository.recordRound(served, outcomes).then(
        () => undefined,
        (error: Error) => void (unrecorded = error),
      ),
    });
    const settled = async () => {
      await recording.done;
      // a failed write: the serving stops here, its deliveries are sent again when the lease runs out
      if (unrecorded) throw unrecorded;
    };
    // the next round is read while this one is sent (leaving out what is in flight and what is
    // being recorded: their residents' next deliveries are not first in their queues until then)
    const claim = (excluding: string[]) => {
      // the lease runs from the renewal in the database, after this moment: a deadline taken
      // from here is on the safe side whatever the clocks of the two machines say
      const claimedAt = Date.now();
      const reading = this.repository
        .claimRound(served, perEndpoint * ROUND_WAVES, leaseSeconds, excluding, this.fence.safe)
        .then((round) => ({ round, deadline: claimedAt + leaseSeconds * 1000 }));
      reading.catch(() => undefined);
      return reading;
    };
    let next = claim([]);
    try {
      for (;;) {
        const { round, deadline } = await next;
        if (!round) return attempts;
        const moved = this.fence.observe(round.fence);
        if (round.deliveries.length === 0) {
          if (recording.ids.length > 0) {
            // what is being recorded may free its residents' next deliveries: look once more
            await settled();
            recording = { ids: [], done: Promise.resolve() };
            next = claim([]);
            continue;
          }
          if (round.waiting > 0 && Date.now() - started < SERVE_BUDGET_MS) {
            // due, but transactions that may still commit earlier events of those residents are
            // running: look again once the fence has moved (at once if it just did)
            if (!moved) await sleep(FENCE_WAIT_MS);
            next = claim([]);
            continue;
          }
          if (Date.now() - started < SERVE_BUDGET_MS) {
            // nothing due of what was expanded: expand what was staged meanwhile; staged rows whose
            // writers are still running are looked at again shortly, as due heads beyond the fence
            // are. While earn batches run, an expansion gives way as a round does.
            const from = performance.now();
            const staged = await this.stager.stage().catch((error: Error) => {
              this.logger.warn(`webhook outbox expansion failed: ${error.message}`);
              return { events: 0, waiting: false };
            });
            if (staged.events > 0 || staged.waiting) {
              if (this.pacing()) {
                if (staged.events > 0) {
                  const { busyShare } = this.config.webhooks;
                  await this.foreground.giveWay(performance.now() - from, busyShare, FOREGROUND_GAP_MS, PACE_MAX_WAIT_MS);
                } else await sleep(PACED_STAGE_WAIT_MS);
              } else if (staged.events === 0) await sleep(FENCE_WAIT_MS);
              next = claim([]);
              continue;
            }
          }
          await this.repository.releaseWebhook(served);
          return attempts;
        }
        const sentFrom = performance.now();
        const sending = this.round(round, deadline);
        // no earn batches running: the next step of what is staged is expanded while this round is
        // sent (one step at a time), so that the next rounds find it; while they run, only an empty
        // round asks (above)
        if (!this.pacing()) {
          this.stager.stage().catch((error: Error) => this.logger.warn(`webhook outbox expansion failed: ${error.message}`));
        }
        const last = Date.now() - started >= SERVE_BUDGET_MS;
        // while this process posts earn batches the drain gives way: the next round is read only
        // after a pause (below), so that it takes at most its share of the time
        const paced = !last && this.pacing();
        next =
          last || paced ? Promise.resolve({ round: null, deadline: 0 }) : claim([...recording.ids, ...round.deliveries.map((d) => d.id)]);
        const { outcomes, gone } = await sending;
        await settled();
        attempts += outcomes.length;
        if (gone) {
          // 410 Gone: the receiver says this endpoint is no more; stop sending it anything (the
          // round read meanwhile is dropped: its deliveries are cancelled with the rest)
          await next.catch(() => undefined);
          await this.transactions.run(async () => {
            await this.repository.recordRound(served, outcomes);
            await this.repository.end(round.webhook.id, 'disabled', 'the receiver answered 410 Gone');
          });
          this.logger.warn(`webhook ${round.webhook.id} disabled: its receiver answered 410 Gone`);
          return attempts;
        }
        recording = record(outcomes);
        if (outcomes.length === 0 || last) {
          // nothing could be sent (the lease ran short), or its time is used: given back
          await next.catch(() => undefined);
          await settled();
          await this.repository.releaseWebhook(served);
          return attempts;
        }
        if (paced) {
          await this.foreground.giveWay(performance.now() - sentFrom, this.config.webhooks.busyShare, FOREGROUND_GAP_MS, PACE_MAX_WAIT_MS);
          next = claim(recording.ids);
        }
      }
    } finally {
      await recording.done;
    }
  }

  /** Whether the drain paces itself now: foreground work (earn batches) runs in this process, and pacing is on. */
  private pacing(): boolean {
    return this.config.webhooks.busyShare < 1 && this.foreground.busy(FOREGROUND_GAP_MS);
  }

  /**
   * One round: the URL resolved and checked once, every delivery attempted (at most
   * WEBHOOK_PER_ENDPOINT at once), the outcomes returned to be recorded together. An attempt starts only while
   * the lease has a whole timeout (and a margin) left, so no attempt outlives the hand-off: a
   * process taking the webhook over after the lease ran out can never send a resident's next
   * event while this one's previous attempt is still on its way.
   */
  private async round(round: Round, deadline: number): Promise<{ outcomes: RoundOutcome[]; gone: boolean }> {
    const { webhook } = round;
    const { perEndpoint, timeoutMs, leaseSeconds } = this.config.webhooks;
    const margin = Math.min(1_000, (leaseSeconds * 1000 - timeoutMs) / 4);
    const now = new Date();
    const secrets = [this.secrets.open(webhook.secret)];
    if (webhook.previousSecret && webhook.previousSecretUntil && webhook.previousSecretUntil > now) {
      secrets.push(this.secrets.open(webhook.previousSecret));
    }
    let target: Target | UnsafeUrlError;
    try {
      target = await this.sender.resolve(webhook.url);
    } catch (error) {
      if (!(error instanceof UnsafeUrlError)) throw error;
      target = error;
    }
    const outcomes: RoundOutcome[] = [];
    const stopped = { gone: false };
    let next = 0;
    const attempt = async (delivery: RoundDelivery): Promise<void> => {
      const payload = payloadFor(webhook, delivery.eventType, delivery.eventCreatedAt, delivery.eventData);
      const stop = this.metrics.duration.startTimer();
      const outcome: AttemptOutcome =
        target instanceof UnsafeUrlError
          ? { kind: 'failed', status: null, response: null, error: target.message, unsafeUrl: true }
          : await this.sender.post(target, { id: delivery.eventId, timestamp: new Date(), body: JSON.stringify(payload), secrets });
      stop();
      const recorded = this.outcome(delivery, outcome);
      outcomes.push(recorded);
      if (outcome.kind === 'gone') stopped.gone = true;
    };
    const lane = async (): Promise<void> => {
      while (next < round.deliveries.length && !stopped.gone && deadline - Date.now() >= timeoutMs + margin) {
        await attempt(round.deliveries[next++]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(perEndpoint, round.deliveries.length) }, lane));
    // deliveries not attempted (the lease ran short, or the receiver answered 410) stay as they were
    for (const o of outcomes) this.metrics.attempts.inc({ outcome: this.label(o, target instanceof UnsafeUrlError) });
    return { outcomes, gone: stopped.gone };
  }

  private outcome(delivery: RoundDelivery, outcome: AttemptOutcome): RoundOutcome {
    const at = new Date();
    const base = {
      id: delivery.id,
      at,
      httpStatus: outcome.status,
      response: clip(outcome.response, 1000),
      orderKey: delivery.orderKey,
      eventSeq: delivery.eventSeq,
    };
    if (outcome.kind === 'delivered') return { ...base, status: 'delivered', next: null, error: null };
    if (outcome.kind === 'gone') return { ...base, status: 'failed', next: null, error: null };
    const next = nextAttemptAt(this.policy, delivery.attempts + 1, delivery.eventCreatedAt, at);
    return { ...base, status: next ? 'pending' : 'failed', next, error: clip(outcome.error, 500) };
  }

  private label(o: RoundOutcome, unsafeUrl: boolean): string {
    if (o.status === 'delivered') return 'delivered';
    if (o.httpStatus === 410) return 'gone';
    if (o.status === 'failed') return 'gave_up';
    return unsafeUrl ? 'unsafe_url' : 'failed';
  }
}

import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { Webhook as Signer } from 'standardwebhooks';
import { Dispatcher, Pool } from 'undici';
import { untilAborted } from '../common/abort';
import { APP_CONFIG, AppConfig } from '../config/config';
import { isPublicAddress, urlProblem } from './domain/url-safety';
import { AttemptOutcome } from './domain/webhook';

/** How much of a receiver's answer is kept (and read at all). */
export const RESPONSE_SNIPPET = 1000;

/** Signers kept ready (one or two per webhook served), the least recently used evicted beyond this. */
const SIGNERS_KEPT = 256;
/** Connection pools kept (one per receiver address), the least recently used closed beyond this. */
const POOLS_KEPT = 256;
/** Connections to one receiver address at most (node:http's agent had maxSockets 64). */
const CONNECTIONS_PER_ADDRESS = 64;

export class UnsafeUrlError extends Error {}

/** A webhook URL and the checked address its requests go to. */
export interface Target {
  url: URL;
  address: string;
  family: number;
}

export interface SignedMessage {
  id: string;
  timestamp: Date;
  body: string;
  /** the current secret first, then (during a rotation's overlap) the previous one */
  secrets: string[];
}

/**
 * Sends one Standard Webhooks message: `webhook-id`, `webhook-timestamp` and `webhook-signature`
 * (one `v1,` signature per secret, space-separated), signed by the `standardwebhooks` library.
 * The host is resolved here and every address it has must be public (unless private ones are
 * allowed); the request then goes to the address that was checked, so a second DNS answer cannot
 * swap it for another. Redirects are not followed: a 3xx is a failed attempt like any non-2xx.
 */
@Injectable()
export class WebhookSender implements OnModuleDestroy {
  /** connection pools by address (and TLS name), the least recently used closed beyond POOLS_KEPT */
  private readonly pools = new LRUCache<string, Pool>({ max: POOLS_KEPT, dispose: (pool) => void pool.close().catch(() => undefined) });

  /** signers by secret (see `signer`) */
  private readonly signers = new LRUCache<string, Signer>({ max: SIGNERS_KEPT });

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  async onModuleDestroy(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.destroy().catch(() => undefined)));
  }

  /** The address to connect to, after DNS; throws UnsafeUrlError for a URL that may not be called. */
  async resolve(raw: string): Promise<Target> {
    const problem = urlProblem(raw);
    if (problem) throw new UnsafeUrlError(problem);
    const url = new URL(raw);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    let addresses: { address: string; family: number }[];
    try {
      // a resolver that does not answer must not hold a registration or an attempt for long
      addresses = await untilAborted(
        lookup(host, { all: true, verbatim: true }),
        AbortSignal.timeout(Math.min(this.config.webhooks.timeoutMs, 5_000)),
      );
    } catch (error) {
      const reason = (error as Error).name === 'TimeoutError' ? 'ETIMEOUT' : ((error as NodeJS.ErrnoException).code ?? 'error');
      throw new UnsafeUrlError(`${host} does not resolve (${reason})`);
    }
    if (addresses.length === 0) throw new UnsafeUrlError(`${host} does not resolve`);
    if (!this.config.webhooks.allowPrivate) {
      const refused = addresses.find((a) => !isPublicAddress(a.address));
      if (refused) throw new UnsafeUrlError(`${host} resolves to ${refused.address}, a private, loopback or reserved address`);
    }
    return { url, ...addresses[0] };
  }

  sign(message: SignedMessage): string {
    return message.secrets.map((secret) => this.signer(secret).sign(message.id, message.timestamp, message.body)).join(' ');
  }

  /**
   * The library's signer of a secret, made once (it decodes the secret's key when it is made):
   * a round signs all its deliveries with the same one or two secrets.
   */
  private signer(secret: string): Signer {
    let signer = this.signers.get(secret);
    if (!signer) {
      signer = new Signer(secret);
      this.signers.set(secret, signer);
    }
    return signer;
  }

  /** Resolves and checks the URL, then sends: one attempt on its own. */
  async send(rawUrl: string, message: SignedMessage): Promise<AttemptOutcome> {
    let target: Target;
    try {
      target = await this.resolve(rawUrl);
    } catch (error) {
      if (error instanceof UnsafeUrlError) return { kind: 'failed', status: null, response: null, error: error.message, unsafeUrl: true };
      throw error;
    }
    return this.post(target, message);
  }

  /**
   * Sends to an address `resolve` checked (a round of one webhook resolves its URL once, just
   * before its attempts, and sends them all to that address). undici's pool of keep-alive
   * connections to that address (one request at a time on each: no pipelining of POSTs), through
   * its dispatch interface: a third less of this thread's time per attempt than node:http's
   * client (docs/performance.md, "Sixth session").
   */
  post(target: Target, message: SignedMessage): Promise<AttemptOutcome> {
    const { url } = target;
    const { timeoutMs } = this.config.webhooks;
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'civic-points-ledger-webhooks/1',
      'webhook-id': message.id,
      'webhook-timestamp': String(Math.floor(message.timestamp.getTime() / 1000)),
      'webhook-signature': this.sign(message),
      host: url.host,
    };
    return new Promise<AttemptOutcome>((resolve) => {
      let settled = false;
      let controller: Dispatcher.DispatchController | null = null;
      let status = 0;
      const chunks: Buffer[] = [];
      let bytes = 0;
      const finish = (outcome: AttemptOutcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(outcome);
      };
      const answered = () => {
        const snippet = Buffer.concat(chunks, bytes).toString('utf8').slice(0, RESPONSE_SNIPPET);
        if (status >= 200 && status < 300) finish({ kind: 'delivered', status, response: snippet });
        else if (status === 410) finish({ kind: 'gone', status, response: snippet });
        else finish({ kind: 'failed', status, response: snippet, error: null });
      };
      const failed = (error: Error & { code?: string }) =>
        finish({
          kind: 'failed',
          status: null,
          response: null,
          error: (error.code ? `${error.code}: ` : '') + error.message.slice(0, 400),
        });
      const timer = setTimeout(() => {
        finish({ kind: 'failed', status: null, response: null, error: `no answer within ${timeoutMs} ms` });
        controller?.abort(new Error('timed out'));
      }, timeoutMs);
      try {
        this.pool(target).dispatch(
          {
            path: `${url.pathname}${url.search}`,
            method: 'POST',
            headers,
            body: message.body,
            // the attempt's own timer above ends it (and aborts the request); these are a backstop
            headersTimeout: 2 * timeoutMs,
            bodyTimeout: 2 * timeoutMs,
          },
          {
            onRequestStart: (c) => {
              controller = c;
              if (settled) c.abort(new Error('timed out'));
            },
            onResponseStart: (_c, statusCode) => {
              status = statusCode;
            },
            onResponseData: (c, chunk) => {
              if (settled) return;
              chunks.push(chunk);
              bytes += chunk.length;
              // enough of the answer is kept (a character is at most 4 bytes): the rest is not read
              if (bytes >= 4 * RESPONSE_SNIPPET) {
                answered();
                c.abort(new Error('answer long enough'));
              }
            },
            onResponseEnd: () => answered(),
            onResponseError: (_c, error) => (status > 0 ? answered() : failed(error)),
          },
        );
      } catch (error) {
        failed(error as Error);
      }
    });
  }

  /** The pool of connections to a checked address (and, over TLS, the name its certificate must have). */
  private pool(target: Target): Pool {
    const { url, address, family } = target;
    const secure = url.protocol === 'https:';
    const port = url.port || (secure ? '443' : '80');
    const servername = secure && isIP(url.hostname.replace(/^\[|\]$/g, '')) === 0 ? url.hostname : undefined;
    const origin = `${url.protocol}//${family === 6 ? `[${address}]` : address}:${port}`;
    const key = `${origin} ${servername ?? ''}`;
    let pool = this.pools.get(key);
    if (!pool) {
      pool = new Pool(origin, {
        connections: CONNECTIONS_PER_ADDRESS,
        pipelining: 1,
        connect: { timeout: this.config.webhooks.timeoutMs, ...(servername ? { servername } : {}) },
      });
      this.pools.set(key, pool);
    }
    return pool;
  }
}

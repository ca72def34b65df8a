import { lookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { Webhook as Signer } from 'standardwebhooks';
import { APP_CONFIG, AppConfig } from '../config/config';
import { isPublicAddress, urlProblem } from './domain/url-safety';
import { AttemptOutcome } from './domain/webhook';

/** How much of a receiver's answer is kept (and read at all). */
export const RESPONSE_SNIPPET = 1000;

/** Signers kept ready (one or two per webhook served), the least recently used evicted beyond this. */
const SIGNERS_KEPT = 256;

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
  private readonly agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets: 64 }),
    'https:': new https.Agent({ keepAlive: true, maxSockets: 64 }),
  };

  /** signers by secret (see `signer`) */
  private readonly signers = new LRUCache<string, Signer>({ max: SIGNERS_KEPT });

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  onModuleDestroy(): void {
    this.agents['http:'].destroy();
    this.agents['https:'].destroy();
  }

  /** The address to connect to, after DNS; throws UnsafeUrlError for a URL that may not be called. */
  async resolve(raw: string): Promise<Target> {
    const problem = urlProblem(raw);
    if (problem) throw new UnsafeUrlError(problem);
    const url = new URL(raw);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    let addresses: { address: string; family: number }[];
    let timer: NodeJS.Timeout | undefined;
    try {
      // a resolver that does not answer must not hold a registration or an attempt for long
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(Object.assign(new Error('timeout'), { code: 'ETIMEOUT' })),
          Math.min(this.config.webhooks.timeoutMs, 5_000),
        );
      });
      addresses = await Promise.race([lookup(host, { all: true, verbatim: true }), late]);
    } catch (error) {
      throw new UnsafeUrlError(`${host} does not resolve (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    } finally {
      clearTimeout(timer);
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
   * before its attempts, and sends them all to that address).
   */
  post(target: Target, message: SignedMessage): Promise<AttemptOutcome> {
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'civic-points-ledger-webhooks/1',
      'webhook-id': message.id,
      'webhook-timestamp': String(Math.floor(message.timestamp.getTime() / 1000)),
      'webhook-signature': this.sign(message),
      'content-length': String(Buffer.byteLength(message.body)),
      host: target.url.host,
    };
    return new Promise<AttemptOutcome>((resolve) => {
      const { url } = target;
      const secure = url.protocol === 'https:';
      const transport = secure ? https : http;
      let settled = false;
      const finish = (outcome: AttemptOutcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(outcome);
      };
      const request = transport.request({
        agent: this.agents[url.protocol as 'http:' | 'https:'],
        host: target.address,
        family: target.family,
        port: url.port || (secure ? 443 : 80),
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers,
        ...(secure ? { servername: url.hostname } : {}),
      });
      const timer = setTimeout(() => {
        request.destroy();
        finish({ kind: 'failed', status: null, response: null, error: `no answer within ${this.config.webhooks.timeoutMs} ms` });
      }, this.config.webhooks.timeoutMs);
      request.on('error', (error: NodeJS.ErrnoException) =>
        finish({
          kind: 'failed',
          status: null,
          response: null,
          error: (error.code ? `${error.code}: ` : '') + error.message.slice(0, 400),
        }),
      );
      request.on('response', (response) => {
        const status = response.statusCode ?? 0;
        let text = '';
        const done = () => {
          const snippet = text.slice(0, RESPONSE_SNIPPET);
          if (status >= 200 && status < 300) finish({ kind: 'delivered', status, response: snippet });
          else if (status === 410) finish({ kind: 'gone', status, response: snippet });
          else finish({ kind: 'failed', status, response: snippet, error: null });
        };
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          text += chunk;
          if (text.length >= RESPONSE_SNIPPET) {
            response.destroy();
            done();
          }
        });
        response.on('end', done);
        response.on('error', done);
        response.on('close', done);
      });
      request.end(message.body);
    });
  }
}

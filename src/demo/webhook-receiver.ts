import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { Webhook as Verifier } from 'standardwebhooks';

/**
 * The demo's stand-in for the city's notification service: a receiver on 127.0.0.1 that
 * verifies each message's signature (Standard Webhooks) and counts what arrived, by type.
 */
export class DemoWebhookReceiver {
  readonly received = new Map<string, number>();
  /** messages whose signature did not verify (there should be none) */
  rejected = 0;
  secret = '';
  private readonly server: Server;

  constructor() {
    this.server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        try {
          const { type } = new Verifier(this.secret).verify(body, req.headers as Record<string, string>) as { type: string };
          this.received.set(type, (this.received.get(type) ?? 0) + 1);
          res.writeHead(204).end();
        } catch {
          this.rejected++;
          res.writeHead(400).end('bad signature');
        }
      });
    });
    // the demo serves until Ctrl-C; the receiver must not be what keeps it alive
    this.server.unref();
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/city-notifications`;
  }

  get total(): number {
    return [...this.received.values()].reduce((a, b) => a + b, 0);
  }
}

import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
  json: { type: string; timestamp: string; data: Record<string, any> };
  at: number;
}

/** How the receiver answers one request: a status (and body and headers, after `delayMs`), or `hang` (never answers). */
export type Answer = { status: number; body?: string; headers?: Record<string, string>; delayMs?: number } | 'hang';

/**
 * A real webhook receiver on 127.0.0.1 (node:http). Each path is one endpoint; `answer` decides
 * what each request gets (200 by default). Every request is kept, in arrival order.
 */
export class TestReceiver {
  readonly received: Received[] = [];
  answer: (request: Received) => Answer = () => ({ status: 200, body: 'ok' });
  private server!: Server;
  private readonly hanging = new Set<ServerResponse>();
  private readonly open = new Map<string, number>();
  private readonly most = new Map<string, number>();

  /** The most requests to `path` that were open (received, not yet answered) at once. */
  maxInFlight(path: string): number {
    return this.most.get(path) ?? 0;
  }

  async start(): Promise<this> {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
        let json: Received['json'];
        try {
          json = JSON.parse(body);
        } catch {
          json = { type: 'unparseable', timestamp: '', data: {} };
        }
        const received: Received = { path: req.url ?? '/', headers, body, json, at: Date.now() };
        this.received.push(received);
        const open = (this.open.get(received.path) ?? 0) + 1;
        this.open.set(received.path, open);
        this.most.set(received.path, Math.max(open, this.most.get(received.path) ?? 0));
        res.on('close', () => this.open.set(received.path, (this.open.get(received.path) ?? 1) - 1));
        const answer = this.answer(received);
        if (answer === 'hang') {
          this.hanging.add(res);
          res.on('close', () => this.hanging.delete(res));
          return;
        }
        const send = () => res.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers }).end(answer.body ?? '');
        if (answer.delayMs) setTimeout(send, answer.delayMs);
        else send();
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this;
  }

  url(path: string): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  at(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

import { Worker } from 'node:worker_threads';

/** The benchmark's clients: prepared requests sent from a thread of their own. */
export interface ClientRequest {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
  expect: number;
}

/**
 * The clients: a separate thread sending prepared requests (`concurrency` at a time), so that
 * the clients' work does not run on the service's event loop. Returns sorted latencies (ms).
 */
export function loadFromClient(base: string, requests: ClientRequest[], concurrency: number): Promise<number[]> {
  // node:http with keep-alive sockets, one per client: fetch costs the shared CPU about three times as much
  const source = `
    const { parentPort, workerData: { base, requests, concurrency } } = require('node:worker_threads');
    const http = require('node:http');
    const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
    const url = new URL(base);
    const send = (r) => new Promise((resolve, reject) => {
      const req = http.request({ host: url.hostname, port: url.port, method: r.method, path: r.path, headers: r.body === undefined ? r.headers : { ...r.headers, 'Content-Length': Buffer.byteLength(r.body) }, agent }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(r.body);
    });
    (async () => {
      const latencies = [];
      let next = 0;
      await Promise.all(Array.from({ length: concurrency }, async () => {
        for (let i = next++; i < requests.length; i = next++) {
          const r = requests[i];
          const t0 = performance.now();
          const res = await send(r);
          if (res.status !== r.expect) throw new Error(r.method + ' ' + r.path + ' answered ' + res.status + ' ' + res.text.slice(0, 200));
          latencies.push(performance.now() - t0);
        }
      }));
      agent.destroy();
      parentPort.postMessage(latencies.sort((a, b) => a - b));
    })().catch((e) => { throw e; });`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(source, { eval: true, workerData: { base, requests, concurrency } });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

export async function waitUntil(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 20));
}

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

/** An open-loop read load's bound on the reads out at once (`readLoad`). */
export const MAX_OUT = 256;

/** How a read load sends: `rate` reads a second at fixed times (open loop), or `concurrency` readers each sending again as soon as answered (closed loop). */
export type ReadPace = { rate: number } | { concurrency: number };

/** A read load running on its own thread (`readLoad`). */
export interface ReadLoad {
  /** resolves when the watched resource was seen with status `done` */
  watched: Promise<void>;
  /** the latencies (ms, sorted) once the load ended: `count` sent, or `stop` */
  result: Promise<number[]>;
  /** open loop: the reads due while MAX_OUT were already out, not sent (none when the service keeps up) */
  missed: Promise<number>;
  /** stops sending, waits for the answers still out and returns their latencies */
  stop(): Promise<number[]>;
}

/**
 * One request sent again and again from a thread of its own until `stop` (or `count` sent),
 * at a pace (`ReadPace`). Open loop: the i-th request is due at start + i / rate and is sent then
 * whatever the earlier ones are doing (a keep-alive socket each, as many as are out at once), and
 * its latency runs from the time it was due, so that a stalled service or a late client thread
 * shows in the figures rather than postponing the reads (closed-loop readers wait for the service
 * and send fewer reads exactly when it is slow). With `watch`, the same thread also polls a
 * resource every 100 ms until its `status` is `done` (the award's progress), so that neither
 * the readers' nor the polls' client work runs on the service's event loop and heap. Open loop,
 * at most MAX_OUT reads are out at once: a read due beyond them is not sent but counted as missed,
 * so that a service slower than the pace does not make the run last as long as its backlog.
 */
export function readLoad(
  base: string,
  request: ClientRequest,
  pace: ReadPace,
  { count, watch }: { count?: number; watch?: { path: string; headers: Record<string, string> } } = {},
): ReadLoad {
  const source = `
    const { parentPort, workerData: { base, request, pace, count, watch, maxOut } } = require('node:worker_threads');
    const http = require('node:http');
    // a socket left idle is closed here before the server's keep-alive timeout (5 s) closes it,
    // which could cross a request sent on it at that moment
    const agent = new http.Agent({ keepAlive: true, maxSockets: 'rate' in pace ? maxOut : pace.concurrency, timeout: 2000 });
    const url = new URL(base);
    const send = (r) => new Promise((resolve, reject) => {
      const req = http.request({ host: url.hostname, port: url.port, method: r.method ?? 'GET', path: r.path, headers: r.headers, agent }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      });
      // a kept-alive socket the server closed as it was reused: sent again (the time counts)
      req.on('error', (e) => (req.reusedSocket && e.code === 'ECONNRESET' ? send(r).then(resolve, reject) : reject(e)));
      req.end();
    });
    let stopping = false;
    let reported = false;
    // a failure after the report (a poll cut short by the agent's end) is no failure
    const fail = (e) => { if (!reported) setImmediate(() => { throw e; }); };
    const latencies = [];
    const out = new Set();
    let sent = 0;
    let missed = 0;
    const one = (due) => {
      const p = send(request).then((res) => {
        if (res.status !== request.expect) throw new Error(request.method + ' ' + request.path + ' answered ' + res.status + ' ' + res.text.slice(0, 200));
        latencies.push(performance.now() - due);
      });
      out.add(p);
      p.then(() => out.delete(p), fail);
      return p;
    };
    let finished;
    const ended = new Promise((resolve) => (finished = resolve));
    const more = () => !stopping && (count === undefined || sent < count);
    if ('rate' in pace) {
      const start = performance.now();
      const gap = 1000 / pace.rate;
      const tick = () => {
        // every request due by now (several if this thread was late), each timed from its due time
        while (more() && start + sent * gap <= performance.now()) {
          if (out.size >= maxOut) {
            missed++;
            sent++;
          } else one(start + sent++ * gap);
        }
        if (more()) setTimeout(tick, Math.max(0, start + sent * gap - performance.now()));
        else finished();
      };
      tick();
    } else {
      Promise.all(Array.from({ length: pace.concurrency }, async () => {
        while (more()) {
          sent++;
          await one(performance.now());
        }
      })).then(() => finished(), fail);
    }
    if (watch) {
      (async () => {
        while (!reported) {
          const res = await send({ path: watch.path, headers: watch.headers });
          if (res.status !== 200) throw new Error('GET ' + watch.path + ' answered ' + res.status + ' ' + res.text.slice(0, 200));
          if (JSON.parse(res.text).status === 'done') return parentPort.postMessage({ watched: true });
          await new Promise((r) => setTimeout(r, 100));
        }
      })().catch(fail);
    }
    const report = async () => {
      await ended;
      await Promise.all(out);
      reported = true;
      agent.destroy();
      parentPort.postMessage({ latencies: latencies.sort((a, b) => a - b), missed });
    };
    parentPort.on('message', () => { stopping = true; });
    report();`;
  const worker = new Worker(source, { eval: true, workerData: { base, request, pace, count, watch, maxOut: MAX_OUT } });
  let onWatched!: () => void;
  let onLatencies!: (latencies: number[]) => void;
  let onMissed!: (missed: number) => void;
  const missed = new Promise<number>((resolve) => (onMissed = resolve));
  let onError!: (error: Error) => void;
  const watched = new Promise<void>((resolve) => (onWatched = resolve));
  const latencies = new Promise<number[]>((resolve, reject) => {
    onLatencies = resolve;
    onError = reject;
  });
  worker.on('message', (m: { watched?: true; latencies?: number[]; missed?: number }) => {
    if (m.watched) onWatched();
    if (m.latencies) {
      onMissed(m.missed ?? 0);
      onLatencies(m.latencies);
      void worker.terminate();
    }
  });
  worker.once('error', (e: Error) => onError(e));
  return {
    watched,
    result: latencies,
    missed,
    stop: () => {
      worker.postMessage('stop');
      return latencies;
    },
  };
}

import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { stdSerializers } from 'pino';
import { pinoHttp } from 'pino-http';
import { AppConfig } from '../../config/config';
import { pinoHttpOptions } from './logging.module';

/** The lines pino-http writes for requests answered with `status`, at `level`. */
async function linesOf(level: AppConfig['logLevel'], requests: { path: string; status: number; headers?: Record<string, string> }[]) {
  const lines: Record<string, unknown>[] = [];
  const middleware = pinoHttp(pinoHttpOptions({ logLevel: level } as AppConfig), {
    write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>),
  });
  const server = createServer((req, res) => {
    (req as typeof req & { id: string }).id = String(req.headers['x-request-id']);
    middleware(req, res, () => {
      req.log.info('while handling it');
      res.statusCode = Number(req.headers['x-status']);
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    for (const [i, r] of requests.entries()) {
      await fetch(base + r.path, { headers: { 'X-Request-Id': `r${i}`, 'X-Status': String(r.status), ...r.headers } }).then((res) =>
        res.text(),
      );
    }
    // the request's line is written on 'finish', after the answer has left
    await new Promise((resolve) => setTimeout(resolve, 50));
    return lines;
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

describe('request logs', () => {
  afterEach(() => jest.restoreAllMocks());

  it('serialise a request only for a line that is written (a 200 at warn writes none)', async () => {
    const serialise = jest.spyOn(stdSerializers, 'req');
    const lines = await linesOf('warn', [
      { path: '/v1/partner/codes/SECRET-1', status: 200 },
      { path: '/v1/partner/codes/SECRET-2', status: 200 },
      { path: '/v1/partner/codes/SECRET-3', status: 404 },
    ]);
    expect(lines.map((l) => [l.requestId, l.level])).toEqual([['r2', 40]]);
    expect(serialise).toHaveBeenCalledTimes(1);
  });

  it('write the request, its answer’s status and its id, the credentials redacted and a code masked', async () => {
    const lines = await linesOf('info', [
      { path: '/v1/partner/codes/SECRET-4', status: 200, headers: { 'X-API-Key': 'till-key-0123456789abcdef' } },
      { path: '/v1/catalogue?limit=5', status: 500, headers: { Authorization: 'Bearer abc.def.ghi' } },
    ]);
    const [during, done, duringFailed, failed] = lines;
    // what is logged while handling a request carries its id, not the request
    expect(during).toMatchObject({ requestId: 'r0', msg: 'while handling it' });
    expect(during.req).toBeUndefined();
    expect(done).toMatchObject({
      level: 30,
      requestId: 'r0',
      req: { id: 'r0', method: 'GET', url: '/v1/partner/codes/[code]', remoteAddress: '127.0.0.1' },
      res: { statusCode: 200 },
      msg: 'request completed',
    });
    expect((done.req as { headers: Record<string, string> }).headers['x-api-key']).toBe('[redacted]');
    expect((done.req as { params?: unknown }).params).toBeUndefined();
    expect(Object.keys(done)).toEqual(['level', 'time', 'pid', 'hostname', 'requestId', 'req', 'res', 'responseTime', 'msg']);
    expect(duringFailed).toMatchObject({ requestId: 'r1', msg: 'while handling it' });
    expect(failed).toMatchObject({
      level: 50,
      requestId: 'r1',
      req: { url: '/v1/catalogue?limit=5', headers: { authorization: '[redacted]' } },
      res: { statusCode: 500 },
      err: { message: 'failed with status code 500' },
      msg: 'request errored',
    });
    expect(JSON.stringify(lines)).not.toMatch(/SECRET-4|till-key-0123456789abcdef|abc\.def\.ghi/);
  });
});

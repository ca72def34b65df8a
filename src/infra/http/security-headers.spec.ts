import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import helmet from 'helmet';
import { securityHeaders } from './security-headers';

/** The headers of an answer served through `middleware`. */
async function headersThrough(middleware: (req: IncomingMessage, res: ServerResponse, next: () => void) => void) {
  const server = createServer((req, res) => {
    res.setHeader('X-Powered-By', 'something');
    middleware(req, res, () => res.end('ok'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    const headers = Object.fromEntries(res.headers);
    delete headers.date;
    return headers;
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

describe('security headers worked out once', () => {
  it('are helmet’s, the same as helmet sets them on each answer', async () => {
    const once = await headersThrough(securityHeaders());
    expect(once).toEqual(await headersThrough(helmet()));
    expect(once['content-security-policy']).toContain("default-src 'self'");
    expect(once['x-powered-by']).toBeUndefined();
  });
});

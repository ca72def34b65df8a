import { request as httpRequest } from 'node:http';
import request from 'supertest';
import TestAgent from 'supertest/lib/agent';
import { TestApp } from '../support/app';

/** A browser-like client of the pages: keeps its cookies, reads the CSRF token of the last page. */
export class PageClient {
  readonly agent: TestAgent;
  csrf = '';

  constructor(readonly base: string) {
    this.agent = request.agent(base);
  }

  async get(path: string): Promise<request.Response> {
    const res = await this.agent.get(path).redirects(0);
    this.remember(res);
    return res;
  }

  /** A form post with this page's CSRF token (unless `csrf` is given). */
  async post(path: string, form: Record<string, string> = {}, csrf: string | null = this.csrf): Promise<request.Response> {
    const res = await this.agent
      .post(path)
      .type('form')
      .send({ ...form, ...(csrf === null ? {} : { _csrf: csrf }) })
      .redirects(0);
    this.remember(res);
    return res;
  }

  private remember(res: request.Response): void {
    const m = /name="_csrf" value="([^"]+)"/.exec(res.text ?? '');
    if (m) this.csrf = m[1];
  }

  /** The session cookie's value as sent back by the service. */
  sessionCookie(): string | undefined {
    const jar = (this.agent as unknown as { jar: { getCookie(name: string, access: object): { value: string } | undefined } }).jar;
    return jar.getCookie('civic_session', { domain: new URL(this.base).hostname, path: '/app', secure: false, script: false })?.value;
  }
}

export function baseOf(t: TestApp): Promise<string> {
  return t.app.getUrl().then((u) => u.replace('[::1]', '127.0.0.1'));
}

export async function signInWithKey(base: string, apiKey: string): Promise<PageClient> {
  const c = new PageClient(base);
  await c.get('/app/login');
  const res = await c.post('/app/login', { apiKey });
  if (res.status !== 303) throw new Error(`sign-in: ${res.status} ${res.text.slice(0, 200)}`);
  return c;
}

export async function signInResident(base: string, token: string): Promise<PageClient> {
  const c = new PageClient(base);
  await c.get('/app/login/resident');
  const res = await c.post('/app/login/resident', { token });
  if (res.status !== 303) throw new Error(`sign-in: ${res.status} ${res.text.slice(0, 200)}`);
  return c;
}

/** What a path transfers gzip-compressed, as a browser asking for gzip would receive it. */
export function compressedSize(base: string, path: string, cookie?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { headers: { 'Accept-Encoding': 'gzip', ...(cookie ? { Cookie: cookie } : {}) } }, (res) => {
      let n = 0;
      res.on('data', (chunk: Buffer) => (n += chunk.length));
      res.on('end', () => (res.statusCode === 200 ? resolve(n) : reject(new Error(`${path}: ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The text of the element with this data-status (the till's state), or null. */
export function tillStatus(html: string): string | null {
  return /<section class="state[^"]*" data-status="([a-z]+)"/.exec(html)?.[1] ?? null;
}

import { ConfigError, loadCliConfig, loadConfig, loadDemoConfig, loadWorkerConfig, runsBackgroundWork } from './config';

describe('configuration', () => {
  it('starts with the documented defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config.port).toBe(3000);
    expect(config.database.url).toBeUndefined();
    expect(config.database.dataDir).toMatch(/\/data$/);
    expect(config.redisUrl).toBeUndefined();
    expect(config.adminApiKey).toBeUndefined();
    expect(config.residentJwtSecret).toBeUndefined();
    expect(config.reconcileCron).toBe('0 3 * * *');
  });

  it('reads every documented variable', () => {
    const config = loadConfig({
      PORT: '8080',
      DATABASE_URL: 'postgres://u:p@db:5432/ledger',
      REDIS_URL: 'redis://cache:6379',
      ADMIN_API_KEY: 'a'.repeat(32),
      RESIDENT_JWT_SECRET: 's'.repeat(40),
      RECONCILE_CRON: '30 2 * * *',
    });
    expect(config).toMatchObject({
      port: 8080,
      database: { url: 'postgres://u:p@db:5432/ledger' },
      redisUrl: 'redis://cache:6379',
      adminApiKey: 'a'.repeat(32),
      residentJwtSecret: 's'.repeat(40),
      reconcileCron: '30 2 * * *',
    });
  });

  it('webhooks: private addresses refused, secrets unencrypted and 24 hours of retries unless configured', () => {
    expect(loadConfig({}).webhooks).toMatchObject({
      allowPrivate: false,
      secretKey: undefined,
      retryHours: 24,
      timeoutMs: 10_000,
      retryBaseMs: 15_000,
    });
    const key = Buffer.alloc(32, 3).toString('base64');
    expect(loadConfig({ WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_SECRET_KEY: key }).webhooks).toMatchObject({
      allowPrivate: true,
      secretKey: Buffer.alloc(32, 3),
    });
    expect(() => loadConfig({ WEBHOOK_ALLOW_PRIVATE: 'yes' })).toThrow(/WEBHOOK_ALLOW_PRIVATE/);
    expect(() => loadConfig({ WEBHOOK_SECRET_KEY: 'short' })).toThrow(/WEBHOOK_SECRET_KEY: must be 32 bytes/);
    // the first retry comes within a minute: its base cannot be longer
    expect(() => loadConfig({ WEBHOOK_RETRY_BASE_MS: '60001' })).toThrow(/WEBHOOK_RETRY_BASE_MS/);
    expect(() => loadConfig({ WEBHOOK_TIMEOUT_MS: '30000', WEBHOOK_LEASE_SECONDS: '30' })).toThrow(
      /WEBHOOK_LEASE_SECONDS: must be longer than WEBHOOK_TIMEOUT_MS/,
    );
  });

  it('process roles: all by default; api and worker need Redis, several API processes need a database server', () => {
    const all = loadConfig({});
    expect(all).toMatchObject({ processRole: 'all', apiProcesses: 1, shutdownTimeoutMs: 15_000 });
    expect(runsBackgroundWork(all)).toBe(true);
    const redis = { REDIS_URL: 'redis://cache:6379' };
    const api = loadConfig({ ...redis, PROCESS_ROLE: 'api' });
    expect(runsBackgroundWork(api)).toBe(false);
    expect(runsBackgroundWork(loadWorkerConfig(redis))).toBe(true);
    expect(loadWorkerConfig(redis).processRole).toBe('worker');
    expect(() => loadConfig({ PROCESS_ROLE: 'api' })).toThrow(/PROCESS_ROLE: needs REDIS_URL/);
    expect(() => loadWorkerConfig({})).toThrow(/PROCESS_ROLE: needs REDIS_URL/);
    expect(() => loadConfig({ PROCESS_ROLE: 'web' })).toThrow(/PROCESS_ROLE/);
    expect(() => loadConfig({ API_PROCESSES: '2' })).toThrow(/API_PROCESSES: needs DATABASE_URL/);
    expect(() => loadConfig({ API_PROCESSES: '0', DATABASE_URL: 'postgres://db/x' })).toThrow(/API_PROCESSES/);
    expect(loadConfig({ API_PROCESSES: '2', DATABASE_URL: 'postgres://db/x' }).apiProcesses).toBe(2);
    // a command never takes a role's background work from the environment it runs in
    expect(loadCliConfig({ ...redis, PROCESS_ROLE: 'api', API_PROCESSES: '4' })).toMatchObject({ processRole: 'all', apiProcesses: 1 });
  });

  it('treats empty variables as unset', () => {
    const config = loadConfig({ DATABASE_URL: '', REDIS_URL: '', ADMIN_API_KEY: '', RESIDENT_JWT_SECRET: '' });
    expect(config.database.url).toBeUndefined();
    expect(config.redisUrl).toBeUndefined();
    expect(config.adminApiKey).toBeUndefined();
    expect(config.residentJwtSecret).toBeUndefined();
  });

  it.each([
    ['PORT', 'eighty', 'PORT'],
    ['PORT', '70000', 'PORT'],
    ['DATABASE_URL', 'mysql://db/ledger', 'DATABASE_URL'],
    ['REDIS_URL', 'localhost:6379', 'REDIS_URL'],
    ['ADMIN_API_KEY', 'short', 'ADMIN_API_KEY'],
    ['RESIDENT_JWT_SECRET', 'too-short', 'RESIDENT_JWT_SECRET'],
    ['RECONCILE_CRON', 'every night', 'RECONCILE_CRON'],
    ['BODY_LIMIT', 'lots', 'BODY_LIMIT'],
  ])('refuses %s=%s with a message naming the variable', (name, value, named) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    try {
      loadConfig({ [name]: value });
    } catch (error) {
      expect((error as ConfigError).message).toContain(named);
    }
  });

  it('lists every problem at once, not only the first', () => {
    try {
      loadConfig({ PORT: 'x', REDIS_URL: 'nope' });
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toHaveLength(2);
    }
  });

  it('gives the demo a resident token secret when none is configured, and keeps a configured one', () => {
    expect(loadDemoConfig({}).residentJwtSecret).toHaveLength(43);
    expect(loadDemoConfig({ RESIDENT_JWT_SECRET: 'k'.repeat(32) }).residentJwtSecret).toBe('k'.repeat(32));
  });

  it('keeps the demo’s and the CLI’s output readable: warnings only unless LOG_LEVEL is set', () => {
    expect(loadDemoConfig({}).logLevel).toBe('warn');
    expect(loadDemoConfig({ LOG_LEVEL: 'debug' }).logLevel).toBe('debug');
    expect(loadCliConfig({}).logLevel).toBe('warn');
    expect(loadCliConfig({ LOG_LEVEL: 'info' }).logLevel).toBe('info');
  });

  it('gives the CLI the same database but no queue: a command never takes jobs from the workers', () => {
    const config = loadCliConfig({ DATABASE_URL: 'postgres://db/ledger', REDIS_URL: 'redis://queue:6379' });
    expect(config.database.url).toBe('postgres://db/ledger');
    expect(config.redisUrl).toBeUndefined();
  });

  it('is frozen: nothing can change it after boot', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.database)).toBe(true);
  });
});

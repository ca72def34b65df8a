import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { z } from 'zod';

/**
 * The service's whole configuration, validated once at boot. Nothing outside src/config reads
 * process.env: everything else receives an AppConfig.
 */
const optionalString = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .optional();

const postgresUrl = z
  .string()
  .trim()
  .refine((v) => /^postgres(ql)?:\/\/.+/.test(v), 'must be a postgres:// or postgresql:// URL');

const redisUrl = z
  .string()
  .trim()
  .refine((v) => /^rediss?:\/\/.+/.test(v), 'must be a redis:// or rediss:// URL');

/** A five- or six-field cron expression; the scheduler itself parses it fully at start. */
const cronExpression = z
  .string()
  .trim()
  .refine((v) => /^(\S+\s+){4,5}\S+$/.test(v), 'must be a cron expression such as "0 3 * * *"');

const byteSize = z
  .string()
  .trim()
  .regex(/^\d+(b|kb|mb)$/i, 'must be a size such as "2mb" or "512kb"');

export const configSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    PORT: z.coerce.number().int().min(1).max(65535).default(3000),
    DATABASE_URL: postgresUrl.optional().or(z.literal('').transform(() => undefined)),
    DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
    DATABASE_REPLICA_URL: postgresUrl.optional().or(z.literal('').transform(() => undefined)),
    REPLICA_MAX_LAG_MS: z.coerce.number().int().min(100).max(3_600_000).default(5_000),
    DATA_DIR: z.string().trim().min(1).default('./data'),
    REDIS_URL: redisUrl.optional().or(z.literal('').transform(() => undefined)),
    ADMIN_API_KEY: optionalString.pipe(z.string().min(24, 'must be at least 24 characters long').optional()),
    RESIDENT_JWT_SECRET: optionalString.pipe(
      z.string().min(32, 'must be at least 32 characters long (HS256 needs a strong secret)').optional(),
    ),
    RECONCILE_CRON: cronExpression.default('0 3 * * *'),
    RECONCILE_FULL_CRON: cronExpression.default('0 4 * * 0'),
    QUEUE_PREFIX: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9_:-]{1,64}$/, 'must be letters, digits, "_", ":" or "-"')
      .default('civic'),
    EARN_SWEEP_SECONDS: z.coerce.number().int().min(1).max(3600).default(10),
    EARN_STALE_SECONDS: z.coerce.number().int().min(1).max(86400).default(15),
    BODY_LIMIT: byteSize.default('2mb'),
    CODE_UPLOAD_LIMIT: byteSize.default('50mb'),
    AWARD_UPLOAD_LIMIT: byteSize.default('200mb'),
    AWARD_CHUNK_ROWS: z.coerce.number().int().min(1).max(10_000).default(2000),
    AWARD_CONCURRENCY: z.coerce.number().int().min(1).max(16).default(2),
    AWARD_SWEEP_SECONDS: z.coerce.number().int().min(1).max(3600).default(10),
    AWARD_LEASE_SECONDS: z.coerce.number().int().min(1).max(3600).default(30),
    PARTNER_CODE_RATE_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(600),
    API_KEY_CACHE_SECONDS: z.coerce.number().int().min(0).max(3600).default(10),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    SESSION_SECRET: optionalString.pipe(z.string().min(32, 'must be at least 32 characters long').optional()),
    LOGIN_RATE_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(10),
    WEBHOOK_ALLOW_PRIVATE: z.enum(['true', 'false']).default('false'),
    WEBHOOK_SECRET_KEY: optionalString.pipe(
      z
        .string()
        .refine((v) => Buffer.from(v, 'base64').length === 32, 'must be 32 bytes in base64 (openssl rand -base64 32)')
        .optional(),
    ),
    WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
    WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().min(10).max(60_000).default(15_000),
    WEBHOOK_RETRY_MAX_MS: z.coerce.number().int().min(10).max(86_400_000).default(3_600_000),
    WEBHOOK_RETRY_HOURS: z.coerce.number().min(0).max(720).default(24),
    WEBHOOK_DISPATCH_MS: z.coerce.number().int().min(10).max(60_000).default(1_000),
    WEBHOOK_LEASE_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
    WEBHOOK_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(16),
    WEBHOOK_PER_ENDPOINT: z.coerce.number().int().min(1).max(256).default(16),
    WEBHOOK_ROTATION_OVERLAP_HOURS: z.coerce.number().min(0).max(720).default(24),
    WEBHOOK_BUSY_SHARE: z.coerce.number().min(0.05).max(1).default(0.25),
    PROCESS_ROLE: z.enum(['all', 'api', 'worker']).default('all'),
    API_PROCESSES: z.coerce.number().int().min(1).max(64).default(1),
    SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(15_000),
  })
  .refine((c) => c.PROCESS_ROLE === 'all' || c.REDIS_URL !== undefined, {
    // without Redis the jobs run in the process that accepted them: there is nothing to split
    message: 'needs REDIS_URL: without Redis the API process runs the jobs itself (use "all")',
    path: ['PROCESS_ROLE'],
  })
  .refine((c) => c.DATABASE_REPLICA_URL === undefined || c.DATABASE_URL !== undefined, {
    message: 'needs DATABASE_URL: a replica is of a PostgreSQL server, not of the embedded database',
    path: ['DATABASE_REPLICA_URL'],
  })
  .refine((c) => c.API_PROCESSES === 1 || c.DATABASE_URL !== undefined, {
    // the embedded database is one process's folder
    message: 'needs DATABASE_URL: the embedded database serves one process',
    path: ['API_PROCESSES'],
  })
  .refine((c) => c.WEBHOOK_LEASE_SECONDS * 1000 > c.WEBHOOK_TIMEOUT_MS, {
    // a lease that ran out while its attempt still waits for an answer would send the message twice
    message: 'must be longer than WEBHOOK_TIMEOUT_MS',
    path: ['WEBHOOK_LEASE_SECONDS'],
  });

export type RawConfig = z.infer<typeof configSchema>;

export interface AppConfig {
  readonly env: RawConfig['NODE_ENV'];
  readonly port: number;
  readonly database: { readonly url?: string; readonly poolSize: number; readonly dataDir: string };
  /** a streaming replica for reads that may lag (audit, statements, history, public statistics, pages), and how far */
  readonly replica?: { readonly url: string; readonly maxLagMs: number };
  readonly redisUrl?: string;
  readonly queuePrefix: string;
  /** how often the sweeper looks for accepted earn events whose job was lost, and how old they must be */
  readonly earnSweepSeconds: number;
  readonly earnStaleSeconds: number;
  readonly adminApiKey?: string;
  readonly residentJwtSecret?: string;
  readonly reconcileCron: string;
  /** the weekly full reconciliation (Europe/Moscow): every month of the journal re-verified */
  readonly reconcileFullCron: string;
  readonly bodyLimit: string;
  /** largest text/csv code pool upload (streamed) */
  readonly codeUploadLimit: string;
  readonly awards: AwardConfig;
  /** code look-ups and redemptions per partner key per minute: slows down guessing */
  readonly partnerCodeRatePerMinute: number;
  readonly apiKeyCacheSeconds: number;
  readonly logLevel: RawConfig['LOG_LEVEL'];
  /** signs the pages' CSRF tokens; unset: a random one per process (set it when several processes serve /app) */
  readonly sessionSecret?: string;
  /** sign-in attempts on the pages per client address per minute */
  readonly loginRatePerMinute: number;
  readonly webhooks: WebhookConfig;
  /** what this process does: serve HTTP (`api`), consume queues and run schedules (`worker`), or both (`all`) */
  readonly processRole: ProcessRole;
  /** API processes sharing PORT on this machine (node:cluster) */
  readonly apiProcesses: number;
  /** how long a stopping process may take to finish in-flight requests and jobs before it exits anyway */
  readonly shutdownTimeoutMs: number;
}

export type ProcessRole = 'all' | 'api' | 'worker';

/** Whether a process of this role consumes queues and runs the schedules (an `api` process only serves and enqueues). */
export function runsBackgroundWork(config: Pick<AppConfig, 'processRole'>): boolean {
  return config.processRole !== 'api';
}

/** Bulk awards (src/awards): upload size, execution pace, and how a lost execution is taken over. */
export interface AwardConfig {
  /** largest text/csv award upload (streamed; JSON uploads are limited by BODY_LIMIT) */
  readonly uploadLimit: string;
  /** rows credited per ledger statement (and database transaction) */
  readonly chunkRows: number;
  /** chunks of one award credited at once by the process executing it */
  readonly concurrency: number;
  /** how often each process looks for running awards nobody is executing (and at boot) */
  readonly sweepSeconds: number;
  /** how long an executing process holds an award without crediting a chunk before another takes it over */
  readonly leaseSeconds: number;
}

/** Outbound webhooks (src/webhooks): URL safety, secret storage, delivery pace and retries. */
export interface WebhookConfig {
  /** accept URLs on private, loopback and link-local addresses (tests, a receiver on the same host) */
  readonly allowPrivate: boolean;
  /** AES-256-GCM key for the signing secrets at rest; without it they are stored as they are */
  readonly secretKey?: Buffer;
  /** one attempt's limit, connection to the answer's first bytes */
  readonly timeoutMs: number;
  /** the first retry comes after between half and all of this; each one after, twice as late, up to retryMaxMs */
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  /** how long a delivery keeps being retried before it is given up */
  readonly retryHours: number;
  /** how often each process looks for deliveries that are due (and for lost ones) */
  readonly dispatchMs: number;
  /** how long a webhook handed to a process (renewed with each round of its deliveries) stays its before another may take it over */
  readonly leaseSeconds: number;
  /** webhooks served at once in this process (one Bull job each) */
  readonly concurrency: number;
  /** attempts in flight at once per webhook (one process serves a webhook at a time) */
  readonly perEndpoint: number;
  /** after a rotation, how long the old secret still signs beside the new one */
  readonly rotationOverlapHours: number;
  /**
   * the share of its time a webhook's drain takes while this process posts earn batches: after a
   * round it waits (1 − share) / share times the round's own time before the next (1: no pacing)
   */
  readonly busyShare: number;
}

/** Injection token for the validated configuration. */
export const APP_CONFIG = Symbol('APP_CONFIG');

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/** Validates an environment (process.env unless given) and returns the typed configuration. */
export function loadConfig(env: Env = process.env): AppConfig {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`));
  }
  const c = parsed.data;
  return Object.freeze({
    env: c.NODE_ENV,
    port: c.PORT,
    database: Object.freeze({ url: c.DATABASE_URL, poolSize: c.DATABASE_POOL_SIZE, dataDir: resolve(c.DATA_DIR) }),
    replica: c.DATABASE_REPLICA_URL ? Object.freeze({ url: c.DATABASE_REPLICA_URL, maxLagMs: c.REPLICA_MAX_LAG_MS }) : undefined,
    redisUrl: c.REDIS_URL,
    queuePrefix: c.QUEUE_PREFIX,
    earnSweepSeconds: c.EARN_SWEEP_SECONDS,
    earnStaleSeconds: c.EARN_STALE_SECONDS,
    adminApiKey: c.ADMIN_API_KEY,
    residentJwtSecret: c.RESIDENT_JWT_SECRET,
    reconcileCron: c.RECONCILE_CRON,
    reconcileFullCron: c.RECONCILE_FULL_CRON,
    bodyLimit: c.BODY_LIMIT,
    codeUploadLimit: c.CODE_UPLOAD_LIMIT,
    awards: Object.freeze({
      uploadLimit: c.AWARD_UPLOAD_LIMIT,
      chunkRows: c.AWARD_CHUNK_ROWS,
      concurrency: c.AWARD_CONCURRENCY,
      sweepSeconds: c.AWARD_SWEEP_SECONDS,
      leaseSeconds: c.AWARD_LEASE_SECONDS,
    }),
    partnerCodeRatePerMinute: c.PARTNER_CODE_RATE_PER_MINUTE,
    apiKeyCacheSeconds: c.API_KEY_CACHE_SECONDS,
    logLevel: c.LOG_LEVEL,
    webhooks: Object.freeze({
      allowPrivate: c.WEBHOOK_ALLOW_PRIVATE === 'true',
      secretKey: c.WEBHOOK_SECRET_KEY ? Buffer.from(c.WEBHOOK_SECRET_KEY, 'base64') : undefined,
      timeoutMs: c.WEBHOOK_TIMEOUT_MS,
      retryBaseMs: c.WEBHOOK_RETRY_BASE_MS,
      retryMaxMs: c.WEBHOOK_RETRY_MAX_MS,
      retryHours: c.WEBHOOK_RETRY_HOURS,
      dispatchMs: c.WEBHOOK_DISPATCH_MS,
      leaseSeconds: c.WEBHOOK_LEASE_SECONDS,
      concurrency: c.WEBHOOK_CONCURRENCY,
      perEndpoint: c.WEBHOOK_PER_ENDPOINT,
      rotationOverlapHours: c.WEBHOOK_ROTATION_OVERLAP_HOURS,
      busyShare: c.WEBHOOK_BUSY_SHARE,
    }),
    sessionSecret: c.SESSION_SECRET,
    loginRatePerMinute: c.LOGIN_RATE_PER_MINUTE,
    processRole: c.PROCESS_ROLE,
    apiProcesses: c.API_PROCESSES,
    shutdownTimeoutMs: c.SHUTDOWN_TIMEOUT_MS,
  });
}

/**
 * The zero-setup demo: the same validation, with a resident token secret made up when none is
 * configured, so that the demo can hand out resident tokens.
 */
export function loadDemoConfig(env: Env = process.env): AppConfig {
  return loadConfig({
    ...env,
    RESIDENT_JWT_SECRET: env.RESIDENT_JWT_SECRET || randomBytes(32).toString('base64url'),
    // the demo's own output (progress, summary, keys) is what a newcomer reads: warnings only, unless asked
    LOG_LEVEL: env.LOG_LEVEL || 'warn',
    // the demo's webhook receiver listens on 127.0.0.1
    WEBHOOK_ALLOW_PRIVATE: env.WEBHOOK_ALLOW_PRIVATE || 'true',
  });
}

/**
 * The command-line tool: the same configuration (DATABASE_URL …), but no queue (commands never
 * enqueue, and a short-lived process must not take jobs from the workers) and, unless LOG_LEVEL
 * says otherwise, only warnings in the log (which goes to stderr, beside the command's output).
 */
export function loadCliConfig(env: Env = process.env): AppConfig {
  return loadConfig({ ...env, REDIS_URL: '', PROCESS_ROLE: 'all', API_PROCESSES: '1', LOG_LEVEL: env.LOG_LEVEL || 'warn' });
}

/** `npm run worker`: a process that consumes the queues and runs the schedules, and serves no HTTP. */
export function loadWorkerConfig(env: Env = process.env): AppConfig {
  return loadConfig({ ...env, PROCESS_ROLE: 'worker' });
}

/** Command-line arguments of the entry point, kept here so that process access stays in config. */
export function processArgs(): string[] {
  return process.argv.slice(2);
}

import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { join } from 'node:path';
import pino from 'pino';
import { createApp, createAppContext } from './app.setup';
import { AppConfig, ConfigError, loadConfig, loadDemoConfig, processArgs } from './config/config';
import { openDatabase } from './infra/database/database';
import { DataFolderInUseError } from './infra/database/data-folder-lock';
import { applyMigrations } from './infra/database/migrator';
import { boundShutdown, isSupervisedApiProcess, superviseApiProcesses } from './infra/process/cluster';

/**
 * The API entry point. `node dist/main.js` serves; `--migrate` applies pending migrations and
 * exits; `--demo` seeds the demo programme (embedded database unless DATABASE_URL is set), plays a day
 * of the city (`--events N`, default 5000), reconciles, prints a summary and serves.
 */
async function main(): Promise<void> {
  const args = processArgs();
  const demo = args.includes('--demo');
  const config = demo ? loadDemoConfig() : loadConfig();
  if (args.includes('--migrate')) return migrateOnly(config);
  if (config.apiProcesses > 1 && !demo && !isSupervisedApiProcess()) {
    // migrations once, before the API processes start (each would otherwise wait for the others' lock)
    await migrateOnly(config);
    return superviseApiProcesses(config.apiProcesses, config.shutdownTimeoutMs);
  }
  boundShutdown(config.shutdownTimeoutMs);
  if (config.processRole === 'worker') {
    // PROCESS_ROLE=worker on the API's entry point: what `npm run worker` runs, no HTTP
    await createAppContext(config);
    return new Logger('Worker').log('Civic points ledger worker started');
  }
  // the demo's code is loaded only for the demo, its options checked before anything starts
  const demoModule = demo ? await import('./demo/demo') : null;
  const demoOptions = demoModule?.demoOptionsOf(args);

  // the demo's terminal is its summary: its log lines (one per request) go to a file in the data folder
  const logFile = demo ? join(config.database.dataDir, 'demo.log') : undefined;
  const app = await createApp(config, logFile ? { destination: pino.destination({ dest: logFile, mkdir: true, append: true }) } : {});
  await app.listen(config.port);
  const url = `http://localhost:${config.port}`;
  if (demoModule && demoOptions) {
    await demoModule.seedDemo(app, config, url, { ...demoOptions, logFile });
  } else {
    new Logger('Main').log(`Civic points ledger serving on ${url} (API docs at ${url}/docs)`);
  }
}

async function migrateOnly(config: AppConfig): Promise<void> {
  const database = await openDatabase(config);
  try {
    const report = await database.withSession((session) => applyMigrations(session));
    new Logger('Migrate').log(
      `${report.applied.length} migration(s) applied${report.applied.length ? `: ${report.applied.join(', ')}` : ''}; ` +
        `${report.alreadyApplied} already in place`,
    );
  } finally {
    await database.close();
  }
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof DataFolderInUseError) {
    console.error(error.message);
  } else {
    console.error('Failed to start:', error instanceof Error ? (error.stack ?? error.message) : error);
  }
  process.exit(1);
});

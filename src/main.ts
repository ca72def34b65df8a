import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApp, createAppContext } from './app.setup';
import { AppConfig, ConfigError, loadConfig, processArgs } from './config/config';
import { openDatabase } from './infra/database/database';
import { DataFolderInUseError } from './infra/database/data-folder-lock';
import { applyMigrations } from './infra/database/migrator';
import { boundShutdown, isSupervisedApiProcess, superviseApiProcesses } from './infra/process/cluster';

/**
 * The API entry point. `node dist/main.js` serves; `--migrate` applies pending migrations and
 * exits. The demo has an entry point of its own (src/demo/main.ts, `npm run demo`), so that the
 * service does not depend on it.
 */
async function main(): Promise<void> {
  const args = processArgs();
  if (args.includes('--demo')) {
    console.error('The demo has an entry point of its own: npm run demo (node dist/demo/main.js)');
    process.exit(2);
  }
  const config = loadConfig();
  if (args.includes('--migrate')) return migrateOnly(config);
  if (config.apiProcesses > 1 && !isSupervisedApiProcess()) {
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
  const app = await createApp(config);
  await app.listen(config.port);
  const url = `http://localhost:${config.port}`;
  new Logger('Main').log(`Civic points ledger serving on ${url} (API docs at ${url}/docs)`);
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

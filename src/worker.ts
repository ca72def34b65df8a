import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createAppContext } from './app.setup';
import { ConfigError, loadWorkerConfig } from './config/config';
import { DataFolderInUseError } from './infra/database/data-folder-lock';
import { boundShutdown } from './infra/process/cluster';

/**
 * The worker entry point: the same image as the API, without HTTP. It consumes the Bull queues
 * (earn events) and runs the schedules (sweeper, hold expiry). Scale it apart from the API.
 */
async function main(): Promise<void> {
  // PROCESS_ROLE=worker: the configuration refuses it without REDIS_URL (without Redis the API runs the jobs itself)
  const config = loadWorkerConfig();
  boundShutdown(config.shutdownTimeoutMs);
  await createAppContext(config);
  new Logger('Worker').log('Civic points ledger worker started');
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError || error instanceof DataFolderInUseError ? error.message : error);
  process.exit(1);
});

import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createAppContext } from './app.setup';
import { ConfigError, loadConfig } from './config/config';
import { DataFolderInUseError } from './infra/database/data-folder-lock';

/**
 * The worker entry point: the same image as the API, without HTTP. It consumes the Bull queues
 * (earn events) and runs the schedules (sweeper, hold expiry). Scale it apart from the API.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.redisUrl) throw new ConfigError(['REDIS_URL: a worker needs Redis (without it the API processes jobs itself)']);
  await createAppContext(config);
  new Logger('Worker').log('Civic points ledger worker started');
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError || error instanceof DataFolderInUseError ? error.message : error);
  process.exit(1);
});

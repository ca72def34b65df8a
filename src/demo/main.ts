import 'reflect-metadata';
import { join } from 'node:path';
import pino from 'pino';
import { createApp } from '../app.setup';
import { ConfigError, loadDemoConfig, processArgs } from '../config/config';
import { DataFolderInUseError } from '../infra/database/data-folder-lock';
import { demoOptionsOf, seedDemo } from './demo';

/**
 * The demo's entry point (`npm run demo`, `node dist/demo/main.js`), a composition root of its own
 * so that the service's entry point (src/main.ts) does not depend on the demo: it serves the API
 * with the demo configuration (embedded database unless DATABASE_URL is set), seeds the demo
 * programme, plays a day of the city (`--events N`, default 5000), reconciles, prints a summary and
 * keeps serving.
 */
async function main(): Promise<void> {
  const config = loadDemoConfig();
  // the demo's options are checked before anything starts
  const options = demoOptionsOf(processArgs());
  // the demo's terminal is its summary: its log lines (one per request) go to a file in the data folder
  const logFile = join(config.database.dataDir, 'demo.log');
  const app = await createApp(config, { destination: pino.destination({ dest: logFile, mkdir: true, append: true }) });
  await app.listen(config.port);
  await seedDemo(app, config, `http://localhost:${config.port}`, { ...options, logFile });
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof DataFolderInUseError) {
    console.error(error.message);
  } else {
    console.error('Failed to start:', error instanceof Error ? (error.stack ?? error.message) : error);
  }
  process.exit(1);
});

import { Global, Inject, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../../config/config';
import { Database, openDatabase } from './database';
import { applyMigrations } from './migrator';
import { PrismaService } from './prisma.service';
import { ReadReplica } from './read-replica';
import { TransactionHost } from './transaction-host';

export const DATABASE = Symbol('DATABASE');

/** Opens the database and applies pending migrations before anything else can use it. */
@Global()
@Module({
  providers: [
    {
      provide: DATABASE,
      inject: [APP_CONFIG],
      useFactory: async (config: AppConfig): Promise<Database> => {
        const logger = new Logger('Database');
        const database = await openDatabase(config);
        const report = await database.withSession((session) => applyMigrations(session));
        logger.log(
          `${database.kind === 'embedded' ? `embedded PostgreSQL in ${config.database.dataDir}` : 'PostgreSQL'}: ` +
            `${report.applied.length} migration(s) applied, ${report.alreadyApplied} already in place`,
        );
        return database;
      },
    },
    {
      provide: PrismaService,
      inject: [DATABASE],
      useFactory: (database: Database) => new PrismaService(database),
    },
    TransactionHost,
    ReadReplica,
  ],
  exports: [DATABASE, PrismaService, TransactionHost, ReadReplica],
})
export class DatabaseModule implements OnApplicationShutdown {
  constructor(
    @Inject(DATABASE) private readonly database: Database,
    private readonly prisma: PrismaService,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.prisma.$disconnect();
    await this.database.close();
  }
}

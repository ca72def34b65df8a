import { AsyncLocalStorage } from 'node:async_hooks';
import { Injectable } from '@nestjs/common';
import { PrismaService, Tx } from './prisma.service';

/** Waits and limits of interactive transactions: generous, since requests queue for connections at peak. */
const TRANSACTION_OPTIONS = { maxWait: 15_000, timeout: 30_000 } as const;

interface UnitOfWork {
  tx: Tx;
  afterCommit: (() => void)[];
}

/**
 * The database transaction of the current unit of work. Services open one with `run`; every
 * repository reads and writes through `client`, which is that transaction when one is open and
 * the plain client otherwise. Nested `run` calls join the outer transaction, so a use case can
 * be composed of others (an idempotent request around a ledger transfer, a redemption around a
 * hold) and still commit or roll back as one.
 */
@Injectable()
export class TransactionHost {
  private readonly storage = new AsyncLocalStorage<UnitOfWork>();

  constructor(private readonly prisma: PrismaService) {}

  get client(): Tx {
    return this.storage.getStore()?.tx ?? this.prisma;
  }

  get inTransaction(): boolean {
    return this.storage.getStore() !== undefined;
  }

  /**
   * A plain read: straight on the driver as a prepared statement when no transaction is open
   * (the hot path), or through the open transaction so that it sees what that wrote.
   */
  read<T>(name: string, sql: string, params: unknown[]): Promise<T[]> {
    const unit = this.storage.getStore();
    if (unit) return unit.tx.$queryRawUnsafe<T[]>(sql, ...params);
    return this.prisma.database.query<T>(name, sql, params);
  }

  /**
   * Whether a whole unit of work may be sent as one statement of its own (`statement`): no
   * transaction is open here, and the database is a PostgreSQL server (the embedded one serves
   * one session, which Prisma's transactions share).
   */
  get standalone(): boolean {
    return !this.inTransaction && this.prisma.database.kind === 'postgres';
  }

  /** One statement, its own transaction, as a named prepared statement straight on the driver. */
  statement<T>(name: string, sql: string, params: unknown[]): Promise<T[]> {
    if (!this.standalone) throw new Error('a standalone statement needs a PostgreSQL server and no open transaction');
    return this.prisma.database.query<T>(name, sql, params);
  }

  /**
   * One statement that writes: as a named prepared statement of its own (`statement`) when it may
   * be, else through the open transaction or Prisma's own session (the embedded database).
   */
  write<T>(name: string, sql: string, params: unknown[]): Promise<T[]> {
    return this.standalone ? this.statement<T>(name, sql, params) : this.client.$queryRawUnsafe<T[]>(sql, ...params);
  }

  /**
   * Runs `work` in a database transaction: the open one, or a new one with these waits and limits
   * (a long audit pass asks for more than a request's).
   */
  async run<T>(work: () => Promise<T>, options: { maxWait: number; timeout: number } = TRANSACTION_OPTIONS): Promise<T> {
    if (this.inTransaction) return work();
    const afterCommit: (() => void)[] = [];
    const result = await this.prisma.$transaction((tx) => this.storage.run({ tx, afterCommit }, work), options);
    for (const callback of afterCommit) callback();
    return result;
  }

  /**
   * Runs `work` inside the open transaction under a savepoint: if it throws, what it wrote is
   * undone (and its after-commit callbacks dropped) while the transaction goes on.
   */
  async withSavepoint<T>(name: string, work: () => Promise<T>): Promise<T> {
    const unit = this.storage.getStore();
    if (!unit) throw new Error('withSavepoint needs an open transaction');
    if (!/^[a-z_]+$/.test(name)) throw new Error(`bad savepoint name ${name}`);
    const callbacks = unit.afterCommit.length;
    await unit.tx.$executeRawUnsafe(`SAVEPOINT ${name}`);
    try {
      const result = await work();
      await unit.tx.$executeRawUnsafe(`RELEASE SAVEPOINT ${name}`);
      return result;
    } catch (error) {
      await unit.tx.$executeRawUnsafe(`ROLLBACK TO SAVEPOINT ${name}`);
      unit.afterCommit.length = callbacks;
      throw error;
    }
  }

  /** Runs `callback` once what was written so far is committed (at once outside a transaction). */
  afterCommit(callback: () => void): void {
    const unit = this.storage.getStore();
    if (unit) unit.afterCommit.push(callback);
    else callback();
  }
}

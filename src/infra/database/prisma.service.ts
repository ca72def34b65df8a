import { Injectable } from '@nestjs/common';
import { PrismaClient } from '../../generated/prisma/client';
import type { Database } from './database';

/** The Prisma client over whichever database the service runs on. Only repositories use it. */
@Injectable()
export class PrismaService extends PrismaClient {
  constructor(readonly database: Database) {
    super({ adapter: database.adapter });
  }
}

export type { Prisma } from '../../generated/prisma/client';

/** A client inside an interactive transaction, or the root client. */
export type Tx = Omit<PrismaClient, '$connect' | '$disconnect' | '$on' | '$transaction' | '$extends'>;

function prismaCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' ? code : undefined;
}

export interface DatabaseErrorInfo {
  sqlState?: string;
  constraint?: string;
  detail?: string;
  message?: string;
  hint?: string;
}

/**
 * What PostgreSQL said, from an error of a raw query run through a Prisma driver adapter, or of a
 * statement sent straight on the driver (Database.query: node-postgres's DatabaseError).
 */
export function databaseErrorOf(error: unknown): DatabaseErrorInfo {
  if (isDriverError(error)) {
    return { sqlState: error.code, constraint: error.constraint, detail: error.detail, message: error.message, hint: error.hint };
  }
  const cause = (error as { meta?: { driverAdapterError?: { cause?: Record<string, unknown> } } })?.meta?.driverAdapterError?.cause;
  if (!cause) return {};
  const constraint = cause.constraint as { index?: string; fields?: string[] } | undefined;
  return {
    sqlState: typeof cause.originalCode === 'string' ? cause.originalCode : undefined,
    constraint: constraint?.index,
    detail: typeof cause.detail === 'string' ? cause.detail : undefined,
    message: typeof cause.originalMessage === 'string' ? cause.originalMessage : undefined,
    hint: typeof cause.hint === 'string' ? cause.hint : undefined,
  };
}

/** node-postgres's DatabaseError (by shape: the driver may be loaded more than once, as under Jest). */
function isDriverError(
  error: unknown,
): error is Error & { code: string; severity: string; constraint?: string; detail?: string; hint?: string } {
  return (
    error instanceof Error &&
    typeof (error as { code?: unknown }).code === 'string' &&
    typeof (error as { severity?: unknown }).severity === 'string'
  );
}

export const isUniqueViolation = (error: unknown) => prismaCode(error) === 'P2002' || databaseErrorOf(error).sqlState === '23505';
export const isForeignKeyViolation = (error: unknown) => prismaCode(error) === 'P2003' || databaseErrorOf(error).sqlState === '23503';

import { Injectable } from '@nestjs/common';
import { PrismaClient } from '../../generated/prisma/client';
import type { Database } from './database';

/** The Prisma client over whichever database the service runs on. Only repositories use it. */
@Injectable()
export class PrismaService extends PrismaClient {
  constructor(database: Database) {
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

export const isUniqueViolation = (error: unknown) => prismaCode(error) === 'P2002';
export const isForeignKeyViolation = (error: unknown) => prismaCode(error) === 'P2003';

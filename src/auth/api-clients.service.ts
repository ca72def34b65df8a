import { Inject, Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { randomUUID } from 'node:crypto';
import { AdminActionsService } from '../audit/admin-actions.service';
import { DomainError, invalidInput, notFound } from '../common/errors';
import { decodeCursor, Page, pageOf } from '../common/pagination';
import { APP_CONFIG, AppConfig } from '../config/config';
import { isForeignKeyViolation } from '../infra/database/prisma.service';
import { TransactionHost } from '../infra/database/transaction-host';
import { Broadcast } from '../infra/queue/broadcast';
import { ApiClientRecord, ApiClientsRepository } from './api-clients.repository';
import { displayPrefixOf, generateApiKey, hashApiKey, MAX_API_KEY_LENGTH, sameDigest } from './domain/api-key';
import { ClientPrincipal, ClientRole } from '../common/principal';

export interface NewApiClient {
  name: string;
  role: ClientRole;
  sourceId?: string;
  partnerId?: string;
}

/**
 * API clients and their keys. Authentication hashes a presented key it does not know and looks
 * the hash up by index; keys that proved valid are remembered (in this process's memory only,
 * never stored or logged) for API_KEY_CACHE_SECONDS, so that hot paths (partner validation at
 * the till) neither hash nor touch the database. Keys that fail are not remembered. A revocation
 * clears this process's cache at once and tells the other processes (Broadcast, through Redis),
 * which clear theirs within a second; a process that misses the message stops accepting the key
 * when its cache entry expires.
 */
/** The channel on which a revoked client's id is sent to every process. */
const REVOKED_CHANNEL = 'api-clients:revoked';
/** Valid keys remembered at most (a process sees a few hundred: one per till, source, clerk). */
const MAX_CACHED_KEYS = 10_000;

@Injectable()
export class ApiClientsService {
  /** valid keys: at most MAX_CACHED_KEYS (the least recently used go first), each for API_KEY_CACHE_SECONDS */
  private readonly cache: LRUCache<string, ClientPrincipal>;
  /** Revokes done by this process: a look-up that overlapped one does not remember what it read. */
  private revocations = 0;
  private readonly bootstrapHash?: string;

  constructor(
    private readonly db: TransactionHost,
    private readonly repository: ApiClientsRepository,
    private readonly adminActions: AdminActionsService,
    private readonly broadcast: Broadcast,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.bootstrapHash = config.adminApiKey ? hashApiKey(config.adminApiKey) : undefined;
    this.cache = new LRUCache({ max: MAX_CACHED_KEYS, ttl: config.apiKeyCacheSeconds * 1000 });
    broadcast.subscribe(REVOKED_CHANNEL, (clientId) => this.forget(clientId));
  }

  async authenticate(apiKey: string): Promise<ClientPrincipal> {
    if (apiKey.length === 0 || apiKey.length > MAX_API_KEY_LENGTH) throw unauthorized();
    const cached = this.cache.get(apiKey);
    if (cached) return cached;

    const hash = hashApiKey(apiKey);
    if (this.bootstrapHash && sameDigest(hash, this.bootstrapHash)) {
      return { kind: 'client', clientId: null, name: 'bootstrap admin', role: 'admin', sourceId: null, partnerId: null };
    }
    const revocations = this.revocations;
    const record = await this.repository.findByHash(hash);
    if (!record || record.revokedAt || !sameDigest(hash, record.keyHash)) throw unauthorized();
    const principal = principalOf(record);
    // a revoke that committed while the row was being read must not be undone by remembering it
    if (this.config.apiKeyCacheSeconds > 0 && revocations === this.revocations) {
      this.cache.set(apiKey, principal);
    }
    return principal;
  }

  /** Creates a client; its key is returned here once and never again. */
  async create(actor: string, input: NewApiClient): Promise<{ client: ApiClientRecord; apiKey: string }> {
    checkBinding(input);
    const apiKey = generateApiKey();
    try {
      const client = await this.db.run(async () => {
        const created = await this.repository.create({
          id: randomUUID(),
          name: input.name,
          role: input.role,
          sourceId: input.sourceId ?? null,
          partnerId: input.partnerId ?? null,
          keyHash: hashApiKey(apiKey),
          keyPrefix: displayPrefixOf(apiKey),
        });
        await this.adminActions.record({
          actor,
          action: 'api-client.created',
          subject: `api-client:${created.id}`,
          details: { name: created.name, role: created.role, sourceId: created.sourceId, partnerId: created.partnerId },
        });
        return created;
      });
      return { client, apiKey };
    } catch (error) {
      if (isForeignKeyViolation(error)) {
        throw input.sourceId ? notFound(`source ${input.sourceId}`) : notFound(`partner ${input.partnerId}`);
      }
      throw error;
    }
  }

  async revoke(actor: string, id: string): Promise<ApiClientRecord> {
    const client = await this.db.run(async () => {
      const existing = await this.repository.findById(id);
      if (!existing) throw notFound(`API client ${id}`);
      if (await this.repository.revoke(id, new Date())) {
        await this.adminActions.record({ actor, action: 'api-client.revoked', subject: `api-client:${id}` });
      }
      return (await this.repository.findById(id))!;
    });
    this.forget(client.id);
    await this.broadcast.publish(REVOKED_CHANNEL, client.id);
    return client;
  }

  /** Stops accepting a revoked client's keys from this process's memory (a look-up under way does not remember them either). */
  private forget(clientId: string): void {
    this.revocations++;
    const revoked = [...this.cache.entries()].filter(([, principal]) => principal.clientId === clientId).map(([key]) => key);
    for (const key of revoked) this.cache.delete(key);
  }

  async list(limit: number, cursor?: string): Promise<Page<ApiClientRecord>> {
    const after = decodeCursor<{ createdAt: string; id: string }>(cursor, ['createdAt', 'id']);
    const rows = await this.repository.list(after && { createdAt: new Date(after.createdAt), id: after.id }, limit + 1);
    return pageOf(
      rows,
      limit,
      (r) => r,
      (r) => ({ createdAt: r.createdAt.toISOString(), id: r.id }),
    );
  }
}

function unauthorized(): DomainError {
  return new DomainError('unauthorized', 'API key not valid (unknown or revoked)');
}

function checkBinding(input: NewApiClient): void {
  if (input.role === 'source' && !input.sourceId) throw invalidInput('sourceId is required for a source key');
  if (input.role === 'partner' && !input.partnerId) throw invalidInput('partnerId is required for a partner key');
  if (input.role !== 'source' && input.sourceId) throw invalidInput('sourceId is only for source keys');
  if (input.role !== 'partner' && input.partnerId) throw invalidInput('partnerId is only for partner keys');
}

function principalOf(record: ApiClientRecord): ClientPrincipal {
  return {
    kind: 'client',
    clientId: record.id,
    name: record.name,
    role: record.role,
    sourceId: record.sourceId,
    partnerId: record.partnerId,
  };
}

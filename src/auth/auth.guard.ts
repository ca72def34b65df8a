import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { APP_CONFIG, AppConfig } from '../config/config';
import { DomainError } from '../common/errors';
import { ACCESS_RULE, AccessRule, AuthenticatedRequest } from '../common/access';
import { ApiClientsService } from './api-clients.service';
import { Principal } from '../common/principal';
import { looksLikeApiKey } from './domain/api-key';
import { verifyResidentToken } from './domain/resident-token';

const ADMIN_ONLY: AccessRule = { roles: ['admin'] };

/**
 * The global guard. Wrong or missing credentials: 401. Valid credentials that the endpoint is not
 * for: 403. An endpoint without an access rule is treated as admin-only, so that forgetting the
 * decorator never opens anything.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly apiClients: ApiClientsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** The access rule of each route, read from its decorators once (per controller and handler). */
  private readonly rules = new WeakMap<object, WeakMap<object, AccessRule>>();

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const rule = this.ruleOf(context);
    if (rule.public) return true;

    const request = context.switchToHttp().getRequest<Request & AuthenticatedRequest>();
    const principal = await this.authenticate(request);
    const allowed = principal.kind === 'resident' ? rule.resident === true : (rule.roles ?? []).includes(principal.role);
    if (!allowed) {
      const needed = [
        ...(rule.roles ?? []).map((r) => `${article(r)} ${r} key (X-API-Key)`),
        ...(rule.resident ? ['a resident token (Authorization: Bearer)'] : []),
      ];
      const held = principal.kind === 'resident' ? 'a resident token' : `${article(principal.role)} ${principal.role} key`;
      throw new DomainError('forbidden', `This endpoint needs ${needed.join(' or ')}; these credentials are ${held}`, {
        requiredRoles: [...(rule.roles ?? []), ...(rule.resident ? ['resident'] : [])],
      });
    }
    request.principal = principal;
    return true;
  }

  private ruleOf(context: ExecutionContext): AccessRule {
    const handler = context.getHandler();
    const controller = context.getClass();
    let rules = this.rules.get(controller);
    if (!rules) this.rules.set(controller, (rules = new WeakMap()));
    let rule = rules.get(handler);
    if (!rule) {
      rule = this.reflector.getAllAndOverride<AccessRule>(ACCESS_RULE, [handler, controller]) ?? ADMIN_ONLY;
      rules.set(handler, rule);
    }
    return rule;
  }

  private async authenticate(request: Request): Promise<Principal> {
    const apiKey = request.header('x-api-key');
    if (apiKey !== undefined) return this.apiClients.authenticate(apiKey);

    const authorization = request.header('authorization');
    if (authorization !== undefined) {
      // the scheme is case-insensitive (RFC 7235): "bearer" and "BEARER" are "Bearer"
      const match = /^Bearer +([A-Za-z0-9._~+/-]+=*)$/i.exec(authorization.trim());
      if (!match) throw new DomainError('unauthorized', 'Authorization must be "Bearer <token>"');
      if (looksLikeApiKey(match[1])) {
        throw new DomainError(
          'unauthorized',
          'This is an API key: API keys go in the X-API-Key header; Authorization: Bearer is for resident tokens',
        );
      }
      const verdict = verifyResidentToken(match[1], this.config.residentJwtSecret);
      if (!verdict.ok) throw new DomainError('unauthorized', `Resident token refused: ${verdict.reason}`);
      return { kind: 'resident', residentId: verdict.residentId };
    }
    throw new DomainError('unauthorized', 'Credentials required: an X-API-Key header or a resident bearer token');
  }
}

const article = (word: string) => (/^[aeiou]/.test(word) ? 'an' : 'a');

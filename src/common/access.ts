import { applyDecorators, createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiExtension, ApiSecurity } from '@nestjs/swagger';
import { ApiProblems } from './openapi';
import { ClientPrincipal, ClientRole, Principal, ResidentPrincipal } from './principal';

/** Who may call an endpoint. The guard denies by default: an endpoint says who it is for. */
export interface AccessRule {
  public?: boolean;
  roles?: readonly ClientRole[];
  resident?: boolean;
}

export const ACCESS_RULE = 'civic:access-rule';
export const API_KEY_SCHEME = 'apiKey';
export const RESIDENT_SCHEME = 'residentToken';

/** Open to anyone, no credentials (catalogue, public statistics, health, docs). */
export const Public = () =>
  applyDecorators(SetMetadata(ACCESS_RULE, { public: true } satisfies AccessRule), ApiExtension('x-roles', ['public']));

/** For API clients holding one of these roles (X-API-Key). */
export const Roles = (...roles: ClientRole[]) =>
  applyDecorators(
    SetMetadata(ACCESS_RULE, { roles } satisfies AccessRule),
    ApiSecurity(API_KEY_SCHEME),
    ApiExtension('x-roles', roles),
    ApiProblems('unauthorized', 'forbidden'),
  );

/** For residents signed in through the city (Authorization: Bearer <JWT>). */
export const ResidentOnly = () =>
  applyDecorators(
    SetMetadata(ACCESS_RULE, { resident: true } satisfies AccessRule),
    ApiBearerAuth(RESIDENT_SCHEME),
    ApiExtension('x-roles', ['resident']),
    ApiProblems('unauthorized', 'forbidden'),
  );

export interface AuthenticatedRequest {
  principal?: Principal;
}

export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => principalOf(ctx));

export const CurrentClient = createParamDecorator((_: unknown, ctx: ExecutionContext): ClientPrincipal => {
  const principal = principalOf(ctx);
  if (principal.kind !== 'client') throw new Error('CurrentClient used on an endpoint open to residents');
  return principal;
});

export const CurrentResident = createParamDecorator((_: unknown, ctx: ExecutionContext): ResidentPrincipal => {
  const principal = principalOf(ctx);
  if (principal.kind !== 'resident') throw new Error('CurrentResident used on an endpoint open to clients');
  return principal;
});

function principalOf(ctx: ExecutionContext): Principal {
  const principal = ctx.switchToHttp().getRequest<AuthenticatedRequest>().principal;
  if (!principal) throw new Error('no principal: the endpoint is missing its access decorator');
  return principal;
}

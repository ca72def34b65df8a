import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiResponse } from '@nestjs/swagger';
import { ERROR_CATALOGUE, ERROR_CODES, ErrorCode } from './errors';
import { PROBLEM_CONTENT_TYPE } from './problem';

/** RFC 9457 problem document, as every error of this API is answered. */
export class ProblemDto {
  @ApiProperty({ example: 'urn:civic-points-ledger:problem:validation_failed' })
  type: string;

  @ApiProperty({ example: 'Request is not valid' })
  title: string;

  @ApiProperty({ example: 400 })
  status: number;

  @ApiProperty({ example: 'name: name must be a string' })
  detail: string;

  @ApiProperty({ enum: ERROR_CODES, description: 'Stable machine-readable error code' })
  code: ErrorCode;

  @ApiPropertyOptional({ example: '/v1/admin/sources' })
  instance?: string;
}

/** @nestjs/swagger's metadata key of ApiResponse (its constants are not exported) */
const API_RESPONSE_METADATA = 'swagger/apiResponse';

/** Documents the problem+json answers an endpoint can give, one entry per HTTP status. */
export function ApiProblems(...codes: ErrorCode[]) {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = ERROR_CATALOGUE[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return applyDecorators(
    ...[...byStatus.entries()].map(([status, group]) => (target: object, key?: string | symbol, descriptor?: PropertyDescriptor) => {
      // a status documented twice (a class's and a handler's, or the idempotency decorator's 409)
      // keeps every code's example: Nest's merge would keep only the last content
      const existing = Reflect.getMetadata(API_RESPONSE_METADATA, descriptor?.value ?? target) as
        Record<string, { content?: Record<string, { examples?: Record<string, { summary?: string; value?: unknown }> }> }> | undefined;
      const earlier = existing?.[String(status)]?.content?.[PROBLEM_CONTENT_TYPE]?.examples ?? {};
      return ApiResponse({
        status,
        description: group.map((c) => `\`${c}\`: ${ERROR_CATALOGUE[c].title}`).join('; '),
        content: {
          [PROBLEM_CONTENT_TYPE]: {
            schema: { $ref: '#/components/schemas/ProblemDto' },
            // each code its own example, so that a 404 does not show the 400's body
            examples: {
              ...earlier,
              ...Object.fromEntries(group.map((c) => [c, { summary: ERROR_CATALOGUE[c].title, value: exampleProblem(c) }])),
            },
          },
        },
      })(target, key!, descriptor!);
    }),
  );
}

/** What each code's detail typically says, for the documentation's examples. */
const EXAMPLE_DETAIL: Record<ErrorCode, string> = {
  validation_failed: 'name: name must be a string',
  unauthorized: 'Credentials required: an X-API-Key header or a resident bearer token',
  forbidden: 'This endpoint needs an admin key (X-API-Key); these credentials are an auditor key',
  not_found: 'item coffee-20 was not found',
  already_exists: 'source active-citizen already exists',
  idempotency_conflict: 'Idempotency-Key 7d9f… was used with a different request',
  insufficient_points: 'Account resident:anna has 40 available; this needs 100',
  out_of_stock: 'item museum-night is out of stock',
  limit_exceeded: 'item coffee-20 allows 2 per resident',
  code_already_redeemed: 'code was already redeemed at 2026-12-01T10:15:00.000Z',
  invalid_state: 'earn event report-9-boris is posted, not pending',
  code_expired: 'code expired at 2026-11-30T00:00:00.000Z',
  payload_too_large: 'Request body is larger than 2mb',
  unsupported_media_type: 'A request body must be JSON: send it with Content-Type: application/json (this one is text/plain)',
  rate_limited: 'Too many code look-ups: try again in 12 s',
  internal_error: 'An internal error occurred; quote the X-Request-Id when reporting it',
  service_unavailable: 'database: down',
};

export function exampleProblem(code: ErrorCode) {
  return {
    type: `urn:civic-points-ledger:problem:${code}`,
    title: ERROR_CATALOGUE[code].title,
    status: ERROR_CATALOGUE[code].status,
    detail: EXAMPLE_DETAIL[code],
    code,
  };
}

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

/** Documents the problem+json answers an endpoint can give, one entry per HTTP status. */
export function ApiProblems(...codes: ErrorCode[]) {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = ERROR_CATALOGUE[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return applyDecorators(
    ...[...byStatus.entries()].map(([status, group]) =>
      ApiResponse({
        status,
        description: group.map((c) => `\`${c}\`: ${ERROR_CATALOGUE[c].title}`).join('; '),
        content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: '#/components/schemas/ProblemDto' } } },
      }),
    ),
  );
}

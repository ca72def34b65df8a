import { BadRequestException, NotFoundException, ServiceUnavailableException } from '@nestjs/common';
import { DomainError, ERROR_CATALOGUE, ERROR_CODES } from './errors';
import { ProblemFilter } from './problem.filter';

describe('problem documents', () => {
  const filter = new ProblemFilter();

  it('render every domain error with its status from the one table', () => {
    for (const code of ERROR_CODES) {
      const problem = filter.toProblem(new DomainError(code, `detail of ${code}`), '/v1/x');
      expect(problem).toEqual({
        type: `urn:civic-points-ledger:problem:${code}`,
        title: ERROR_CATALOGUE[code].title,
        status: ERROR_CATALOGUE[code].status,
        detail: `detail of ${code}`,
        code,
        instance: '/v1/x',
      });
    }
  });

  it('keep extensions but never let them override the standard members', () => {
    const problem = filter.toProblem(new DomainError('validation_failed', 'bad', { errors: [1], status: 200, code: 'x' }));
    expect(problem).toMatchObject({ status: 400, code: 'validation_failed', errors: [1] });
  });

  it('turn framework exceptions into stable codes', () => {
    expect(filter.toProblem(new NotFoundException('Cannot GET /x'))).toMatchObject({ status: 404, code: 'not_found' });
    expect(filter.toProblem(new BadRequestException('bad'))).toMatchObject({ status: 400, code: 'validation_failed' });
    expect(filter.toProblem(new ServiceUnavailableException({ status: 'error', details: { database: { status: 'down' } } }))).toMatchObject(
      {
        status: 503,
        code: 'service_unavailable',
        checks: { database: { status: 'down' } },
      },
    );
  });

  it('answer unexpected errors with a bare 500 that reveals no internals', () => {
    const error = new Error('relation "secret_table" does not exist at SELECT * FROM secret_table');
    const logger = jest.spyOn((filter as unknown as { logger: { error: () => void } }).logger, 'error').mockImplementation(() => undefined);
    const problem = filter.toProblem(error, '/v1/x');
    expect(problem).toEqual(expect.objectContaining({ status: 500, code: 'internal_error', detail: 'The request could not be completed' }));
    expect(JSON.stringify(problem)).not.toMatch(/secret_table|SELECT|at /);
    expect(logger).toHaveBeenCalled();
  });
});

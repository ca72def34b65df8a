import { ParseUUIDPipe } from '@nestjs/common';
import { invalidInput } from './errors';

/** A path id that must be a UUID: anything else is a 400, before any lookup. */
export const UUID_PARAM = new ParseUUIDPipe({ exceptionFactory: () => invalidInput('id must be a UUID') });

/** An optional RFC 3339 moment from a query string, as a Date. */
export function optionalMoment(value: string | undefined, name: string): Date | undefined {
  if (value === undefined) return undefined;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw invalidInput(`${name} must be an RFC 3339 date-time`);
  return date;
}

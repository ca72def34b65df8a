import { ArgumentMetadata, ValidationError, ValidationPipe } from '@nestjs/common';
import { DomainError, invalidInput } from './errors';
import { unsafeContent } from './unsafe-input';

interface FieldError {
  field: string;
  messages: string[];
}

function flatten(errors: ValidationError[], prefix = ''): FieldError[] {
  return errors.flatMap((e) => {
    const field = prefix ? `${prefix}.${e.property}` : e.property;
    const own = e.constraints ? [{ field, messages: tooLarge(e.value, e.property) ?? Object.values(e.constraints) }] : [];
    return [...own, ...flatten(e.children ?? [], field)];
  });
}

/**
 * An amount written as a long run of digits fails its pattern for its size alone: say so, rather
 * than "must be a decimal string such as \"150\"", which it already is.
 */
const LONG_NUMBER = /^-?\d{16,}(\.\d+)?$/;
function tooLarge(value: unknown, property: string): string[] | undefined {
  if (typeof value !== 'string' || !LONG_NUMBER.test(value)) return undefined;
  const digits = value.replace(/^-/, '').split('.')[0].length;
  return [`${property} is too large: ${digits} digits, where amounts have at most 15 (points) or 18 (ledger amounts) before the point`];
}

/** Path and query values are plain strings the DTO pipe skips: they are checked for what no input may carry. */
class RequestValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'param' || metadata.type === 'query') {
      const unsafe = unsafeContent(value, metadata.data);
      if (unsafe) throw invalidInput(unsafe);
    }
    return super.transform(value, metadata);
  }
}

/** The global pipe: unknown fields are refused, known ones transformed to their DTO types. */
export function createValidationPipe(): ValidationPipe {
  return new RequestValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    stopAtFirstError: false,
    exceptionFactory: (errors) => {
      const fieldErrors = flatten(errors);
      const detail = fieldErrors.map((f) => `${f.field}: ${f.messages.join(', ')}`).join('; ');
      return new DomainError('validation_failed', detail || 'Request is not valid', { errors: fieldErrors });
    },
  });
}

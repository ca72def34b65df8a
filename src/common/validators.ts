import { registerDecorator, ValidationOptions } from 'class-validator';
import { isDecimalString } from './money';

/** Whole points as a string ("150"): rule points, prices, caps, donation amounts. */
export const WHOLE_POINTS = /^[1-9]\d{0,14}$/;
export const WHOLE_POINTS_HINT = 'a whole number of points as a string, such as "150"';

/** A decimal string ("150", "12.50"): never a JSON number, never an exponent. */
export function IsDecimalString(options: { signed?: boolean } = {}, validation?: ValidationOptions) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isDecimalString',
      target: target.constructor,
      propertyName,
      options: {
        message: `${propertyName} must be a decimal string such as "150"${options.signed ? ' or "-150"' : ''}`,
        ...validation,
      },
      validator: {
        validate: (value: unknown) => typeof value === 'string' && isDecimalString(value, options),
      },
    });
}

export function isSmallJsonObject(value: unknown, maxBytes: number): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Buffer.byteLength(JSON.stringify(value)) <= maxBytes;
}

/** A JSON object whose serialised form stays under a size limit. */
export function IsSmallJsonObject(maxBytes: number, validation?: ValidationOptions) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isSmallJsonObject',
      target: target.constructor,
      propertyName,
      options: { message: `${propertyName} must be a JSON object of at most ${maxBytes} bytes`, ...validation },
      validator: {
        validate: (value: unknown) => isSmallJsonObject(value, maxBytes),
      },
    });
}

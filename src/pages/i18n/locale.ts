import { CATALOGUES, Language, LANGUAGES, MessageKey } from './messages';

/** Every date and time on the pages is Moscow's, as the programme's days and months are. */
export const TIME_ZONE = 'Europe/Moscow';
const INTL_LOCALE: Record<Language, string> = { ru: 'ru-RU', en: 'en-GB' };

export function isLanguage(v: unknown): v is Language {
  return typeof v === 'string' && (LANGUAGES as readonly string[]).includes(v);
}

type Values = Record<string, string | number>;

/**
 * One language's texts and formats for a page: `t` looks a message up and fills it in, `points`
 * says an amount with the right plural form ("1 234 балла"), dates are Moscow time.
 */
export class Locale {
  private readonly plurals: Intl.PluralRules;
  private readonly numbers: Intl.NumberFormat;
  private readonly dateTimes: Intl.DateTimeFormat;
  private readonly dates: Intl.DateTimeFormat;
  private readonly shortDates: Intl.DateTimeFormat;
  private readonly times: Intl.DateTimeFormat;
  private readonly months: Intl.DateTimeFormat;

  constructor(readonly lang: Language) {
    const tag = INTL_LOCALE[lang];
    this.plurals = new Intl.PluralRules(tag);
    this.numbers = new Intl.NumberFormat(tag, { maximumFractionDigits: 20 });
    this.dateTimes = new Intl.DateTimeFormat(tag, { timeZone: TIME_ZONE, dateStyle: 'medium', timeStyle: 'short' });
    this.dates = new Intl.DateTimeFormat(tag, { timeZone: TIME_ZONE, dateStyle: 'long' });
    this.shortDates = new Intl.DateTimeFormat(tag, { timeZone: TIME_ZONE, dateStyle: 'short' });
    this.times = new Intl.DateTimeFormat(tag, { timeZone: TIME_ZONE, timeStyle: 'short' });
    this.months = new Intl.DateTimeFormat(tag, { timeZone: TIME_ZONE, month: 'long', year: 'numeric' });
  }

  /** Whether there is a message for this key (a history entry's type, a refusal's code). */
  has(key: string): boolean {
    return typeof CATALOGUES[this.lang][key as MessageKey] === 'string';
  }

  t(key: MessageKey, values: Values = {}): string {
    const message = CATALOGUES[this.lang][key];
    if (typeof message !== 'string') throw new Error(`message ${key} is a plural: use plural()`);
    return fill(message, values);
  }

  /** A counted message: the form for `n` (Russian has one, few and many), with `{n}` formatted. */
  plural(key: MessageKey, n: number | string, values: Values = {}): string {
    const message = CATALOGUES[this.lang][key];
    if (typeof message === 'string') throw new Error(`message ${key} is not a plural`);
    const category = this.plurals.select(Number(n)) as keyof typeof message;
    return fill(message[category] ?? message.other, { ...values, n: this.number(n) });
  }

  /** An amount of points as words: "1 234 балла", "1 point". */
  points(amount: string | number): string {
    return this.plural('points#plural', amount);
  }

  /** A number in this language's digits and grouping; a decimal string stays exact. */
  number(n: number | string): string {
    return this.numbers.format(n as unknown as number);
  }

  dateTime(d: Date): string {
    return this.dateTimes.format(d);
  }

  /** For tables: "02.12.2026". */
  shortDate(d: Date): string {
    return this.shortDates.format(d);
  }

  date(d: Date): string {
    return this.dates.format(d);
  }

  time(d: Date): string {
    return this.times.format(d);
  }

  month(d: Date): string {
    return this.months.format(d);
  }
}

function fill(message: string, values: Values): string {
  return message.replace(/\{(\w+)\}/g, (whole, name: string) => (name in values ? String(values[name]) : whole));
}

const LOCALES = Object.fromEntries(LANGUAGES.map((l) => [l, new Locale(l)])) as Record<Language, Locale>;

export function localeOf(lang: Language): Locale {
  return LOCALES[lang];
}

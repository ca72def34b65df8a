/** Identifiers chosen by people (sources, partners, items): lower-case slugs. */
export const SLUG_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
export const SLUG_ID_HINT = 'lower-case letters, digits, "-" and "_", 1 to 64 characters, starting with a letter or digit';

/** Resident ids come from the city's sign-in (`sub` of the token); they appear in account codes. */
export const RESIDENT_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
export const RESIDENT_ID_HINT = 'letters, digits, "-" and "_", 1 to 64 characters';

/**
 * A new id for a row of a large, growing table (the journal's transactions, earn events,
 * redemptions): an RFC 9562 version 7 UUID, whose first 48 bits are the time in milliseconds.
 * Ids made one after another sort near one another, so each index keyed by them (the journal's
 * primary key, the id registry, the postings' and the lots' transaction indexes, the events'
 * key) takes new entries at its right edge instead of in a random leaf page each: fewer pages
 * read, dirtied and logged whole after a checkpoint, more so once an index outgrows memory (the
 * awards' ids are in line order for the same reason). The rest of the id is random, from the
 * system's secure generator; the time in it is no secret (every transaction shows its createdAt).
 */
export { randomUUIDv7 as newRowId } from 'node:crypto';

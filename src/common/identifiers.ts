/** Identifiers chosen by people (sources, partners, items): lower-case slugs. */
export const SLUG_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
export const SLUG_ID_HINT = 'lower-case letters, digits, "-" and "_", 1 to 64 characters, starting with a letter or digit';

/** Resident ids come from the city's sign-in (`sub` of the token); they appear in account codes. */
export const RESIDENT_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
export const RESIDENT_ID_HINT = 'letters, digits, "-" and "_", 1 to 64 characters';

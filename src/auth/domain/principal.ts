/**
 * Moved to src/common/principal.ts (with the access decorators that infrastructure uses). This
 * re-export keeps code written before the move compiling; import from '../../common/principal' and
 * remove this file when nothing imports it.
 */
export * from '../../common/principal';

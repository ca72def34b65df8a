/**
 * Moved to src/common/access.ts (infrastructure uses the access decorators too, and infra imports
 * no capability). This re-export keeps code written before the move compiling; import from
 * '../common/access' and remove this file when nothing imports it.
 */
export * from '../common/access';

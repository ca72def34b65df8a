import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/** Injection token: this process (this application instance), as leases and claims name it. */
export const PROCESS_IDENTITY = Symbol('PROCESS_IDENTITY');

/**
 * A name for one running instance of the service: host, pid and a random part (a pid is reused
 * after a restart, a container's host name may be the same on every replica, and a test runs
 * several instances in one process).
 */
export function processIdentity(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

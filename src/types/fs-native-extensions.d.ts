/** The part of fs-native-extensions (no types of its own) that the data folder lock uses. */
declare module 'fs-native-extensions' {
  /** An exclusive (or shared) advisory lock on an open file, without waiting: false when another holds it. */
  export function tryLock(fd: number, offset?: number, length?: number, options?: { shared?: boolean }): boolean;
  export function unlock(fd: number, offset?: number, length?: number): void;
}

import { closeSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { tryLock } from 'fs-native-extensions';

/**
 * The embedded database's data folder belongs to one process at a time: PGlite keeps its state in
 * memory and writes the folder back as it pleases, so a second process on the same folder works on
 * a copy that the first one overwrites (a CLI run "passes" and is gone; a key it made is refused).
 *
 * The lock is the operating system's advisory lock on `<data folder>/.lock` (an open file
 * description lock on Linux, flock elsewhere, through fs-native-extensions' prebuilt binding):
 * it lasts while the file stays open and the kernel drops it when the process ends, however it
 * ends (Ctrl-C, kill -9, a crash), so a dead holder never blocks the next start. The file's
 * content only says who holds it, for the message: it is never trusted as the lock itself.
 */
export class DataFolderInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: DataFolderHolder | null,
  ) {
    super(
      `The data folder ${dataDir} is in use by ${holder ? describeHolder(holder) : 'another process'}. ` +
        'The embedded database serves one process at a time: stop that process first (Ctrl-C in its terminal' +
        `${holder ? ` or kill ${holder.pid}` : ''}), or use the running service's API, or run both against PostgreSQL (DATABASE_URL).`,
    );
    this.name = 'DataFolderInUseError';
  }
}

export interface DataFolderHolder {
  pid: number;
  command: string;
  since: string;
}

export interface DataFolderLock {
  readonly file: string;
  release(): void;
}

export const LOCK_FILE = '.lock';

/** Takes the data folder for this process, or throws DataFolderInUseError naming its holder. */
export function lockDataFolder(dataDir: string): DataFolderLock {
  const file = join(dataDir, LOCK_FILE);
  const fd = openSync(file, 'a+');
  let locked = false;
  try {
    locked = tryLock(fd);
  } finally {
    if (!locked) closeSync(fd);
  }
  if (!locked) throw new DataFolderInUseError(dataDir, holderOf(file));
  const holder: DataFolderHolder = { pid: process.pid, command: commandLine(), since: new Date().toISOString() };
  ftruncateSync(fd, 0);
  writeSync(fd, `${JSON.stringify(holder)}\n`, 0);
  let released = false;
  return {
    file,
    release() {
      if (released) return;
      released = true;
      // closing the file is what drops the lock; the stale content says nothing once unlocked
      closeSync(fd);
    },
  };
}

function holderOf(file: string): DataFolderHolder | null {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<DataFolderHolder>;
    return typeof parsed.pid === 'number'
      ? { pid: parsed.pid, command: String(parsed.command ?? ''), since: String(parsed.since ?? '') }
      : null;
  } catch {
    // the holder may be between taking the lock and writing its name
    return null;
  }
}

function describeHolder(holder: DataFolderHolder): string {
  return `process ${holder.pid}${holder.command ? ` (${holder.command})` : ''}${holder.since ? `, running since ${holder.since}` : ''}`;
}

/** `node dist/main.js` or `node demo/main.js --events 500` rather than absolute paths. */
function commandLine(): string {
  const [, script, ...args] = process.argv;
  return ['node', script ? join(basename(join(script, '..')), basename(script)) : '', ...args].filter(Boolean).join(' ');
}

/** Foreground work that ended less than this long ago still counts as running (the gap between two earn batches). */
export const FOREGROUND_GAP_MS = 200;
/** The longest a paced drain waits between two rounds. */
export const PACE_MAX_WAIT_MS = 2_000;

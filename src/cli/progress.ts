import { Presets, SingleBar } from 'cli-progress';

export interface Progress {
  /** moves the bar forward by `n` (1 unless given) */
  tick(n?: number): void;
  stop(): void;
}

/**
 * A progress bar on stderr for a long step of the CLI or the demo. Drawn only on a terminal:
 * where stderr is a file or a pipe (CI, tests, logs) it stays silent.
 */
export function progressBar(title: string, total: number, unit = ''): Progress {
  const bar = new SingleBar(
    {
      format: `${title.padEnd(28)} {bar} {percentage}% | {value}/{total}${unit ? ` ${unit}` : ''} | {duration_formatted}`,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      etaBuffer: 50,
    },
    Presets.shades_classic,
  );
  bar.start(Math.max(total, 1), 0);
  return {
    tick: (n = 1) => bar.increment(n),
    stop: () => {
      bar.update(Math.max(total, 1));
      bar.stop();
    },
  };
}

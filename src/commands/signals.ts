// Shutdown on SIGTERM/SIGINT the way a pod expects: the first signal stops gracefully
// (running reconciles finish, the lease is released), a second one exits at once.
import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';

export interface ShutdownOptions {
  log: Logger;
  /** Default: the process. */
  target?: Pick<EventEmitter, 'on'>;
  /** Default: process.exit. */
  exit?: (code: number) => void;
}

/** Exit code after a second signal: 128 + SIGINT, as shells report an interrupt. */
export const FORCED_EXIT_CODE = 130;

export function shutdownSignal(options: ShutdownOptions): AbortSignal {
  const target = options.target ?? process;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const abort = new AbortController();
  const onSignal = (name: string) => {
    if (abort.signal.aborted) {
      options.log.warn(`${name} again: exiting now`);
      exit(FORCED_EXIT_CODE);
      return;
    }
    options.log.info(`${name}: shutting down (send it again to exit at once)`);
    abort.abort();
  };
  target.on('SIGINT', () => onSignal('SIGINT'));
  target.on('SIGTERM', () => onSignal('SIGTERM'));
  return abort.signal;
}

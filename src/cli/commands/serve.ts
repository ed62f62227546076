/**
 * `consent-relay serve`: run the relay until SIGTERM/SIGINT, then drain (stop accepting, finish
 * transactions in flight) and exit 0.
 */
import type { Config } from '../../config/schema.js';
import { createLogger } from '../../log.js';
import { startRelay } from '../../main.js';

export async function serveCommand(config: Config): Promise<number> {
  const logger = createLogger(config.log.level);
  const relay = await startRelay(config, { logger });
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      logger.info({ signal }, 'draining: no new connections, finishing transactions in flight');
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      relay.close().then(resolve, (err: unknown) => {
        logger.error({ reason: err instanceof Error ? err.message : String(err) }, 'error while stopping');
        resolve();
      });
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  logger.flush();
  return 0;
}

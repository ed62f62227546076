/**
 * `consent-relay serve`: run the relay until SIGTERM/SIGINT, then drain (stop accepting, finish
 * transactions in flight) and exit 0. SIGHUP re-reads the listeners' TLS certificates.
 */
import type { Config } from '../../config/schema.js';
import { createLogger } from '../../log.js';
import { startRelay } from '../../main.js';

export async function serveCommand(config: Config): Promise<number> {
  const logger = createLogger(config.log.level);
  const relay = await startRelay(config, { logger });
  // certificates renewed on disk (certbot, an internal CA) take effect without a restart
  const reload = (): void => void relay.reloadTls();
  process.on('SIGHUP', reload);
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      logger.info({ signal }, 'draining: no new connections, finishing transactions in flight');
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      process.off('SIGHUP', reload);
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

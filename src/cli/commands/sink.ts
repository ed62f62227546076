/** `consent-relay sink`: run the stand-in upstream until SIGTERM/SIGINT. */
import { splitHostPort } from '../../config/load.js';
import { startSink } from '../../sink/server.js';

export async function sinkCommand(o: { listen: string; dir: string }): Promise<number> {
  const { host, port } = splitHostPort(o.listen);
  const sink = await startSink({
    host,
    port,
    dir: o.dir,
    // file name, size and count only: the messages themselves are in the folder
    onMessage: (m) => process.stdout.write(`stored ${m.file} (${m.bytes} bytes, ${m.recipients} recipient${m.recipients === 1 ? '' : 's'})\n`),
  });
  process.stdout.write(`consent-relay sink: accepting mail on ${sink.address.address}:${sink.address.port}, storing it in ${o.dir}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      sink.close().then(resolve, resolve);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  return 0;
}

import { it } from 'vitest';
import { startPostfix } from './postfix.js';
it('timing', async () => {
  let t = Date.now();
  const pf = await startPostfix({ relayhost: '127.0.0.1:2' });
  console.log('start', Date.now() - t);
  t = Date.now();
  await pf.stop();
  console.log('stop', Date.now() - t);
  t = Date.now();
  const pf2 = await startPostfix({ relayhost: '127.0.0.1:2' });
  console.log('start2', Date.now() - t);
  console.log(pf2.logs());
  await pf2.stop();
});

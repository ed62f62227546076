/**
 * `consent-relay users add|passwd|remove|list`: the logins of submission listeners, in
 * `<dataDir>/users.db`. A running relay sees changes at the next AUTH (and a removed user's next
 * MAIL). Output names users and their senders, never a hash.
 */
import type { Config } from '../../config/schema.js';
import { RelayError } from '../../errors.js';
import { checkDataDir } from '../../store/dataDir.js';
import { textTable } from '../../store/table.js';
import { hashPassword } from '../../users/password.js';
import { SqliteUserStore } from '../../users/sqlite.js';
import { parseSenders, validateUserName } from '../../users/store.js';
import { writeStdout } from '../io.js';
import { readPassword } from '../password.js';

async function withStore<T>(config: Config, fn: (s: SqliteUserStore) => Promise<T>): Promise<T> {
  checkDataDir(config.dataDir, { create: true });
  const store = new SqliteUserStore(config.dataDir);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

export async function usersAddCommand(config: Config, o: { name: string; senders?: string; passwordStdin: boolean }): Promise<number> {
  const name = validateUserName(o.name);
  if (!o.senders) throw new RelayError('USAGE', 'users add needs --senders ADDR|@DOMAIN[,...]: the envelope senders this login may use');
  const senders = parseSenders(o.senders);
  await withStore(config, async (s) => {
    if (await s.get(name)) throw new RelayError('USAGE', `user ${name} exists already; use "users passwd" to change the password or "users remove" first`);
    const passwordHash = await hashPassword(await readPassword({ stdin: o.passwordStdin, prompt: `Password for ${name}` }));
    await s.add({ name, senders, passwordHash });
  });
  await writeStdout(`added user ${name}, senders ${senders.join(', ')}\n`);
  return 0;
}

export async function usersPasswdCommand(config: Config, o: { name: string; passwordStdin: boolean; senders?: string }): Promise<number> {
  const name = validateUserName(o.name);
  const senders = o.senders === undefined ? undefined : parseSenders(o.senders);
  await withStore(config, async (s) => {
    if (!(await s.get(name))) throw new RelayError('USAGE', `no user ${name}; "users list" shows the users`);
    const passwordHash = await hashPassword(await readPassword({ stdin: o.passwordStdin, prompt: `New password for ${name}` }));
    await s.setPassword(name, passwordHash);
    if (senders) await s.setSenders(name, senders);
  });
  await writeStdout(`changed the password of ${name}${senders ? `, senders ${senders.join(', ')}` : ''}\n`);
  return 0;
}

export async function usersRemoveCommand(config: Config, o: { name: string }): Promise<number> {
  const name = validateUserName(o.name);
  const removed = await withStore(config, (s) => s.remove(name));
  if (!removed) throw new RelayError('USAGE', `no user ${name}; "users list" shows the users`);
  await writeStdout(`removed user ${name}\n`);
  return 0;
}

export async function usersListCommand(config: Config): Promise<number> {
  const users = await withStore(config, (s) => s.list());
  if (!users.length) {
    await writeStdout(`no users in ${config.dataDir}/users.db; add one with: consent-relay users add NAME --senders ADDR|@DOMAIN\n`);
    return 0;
  }
  await writeStdout(
    textTable(
      ['user', 'senders', 'password changed'],
      users.map((u) => [u.name, u.senders.join(', '), u.updatedAt]),
    ),
  );
  return 0;
}

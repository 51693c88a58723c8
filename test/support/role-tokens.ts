import { createToken } from '../../src/auth/token-admin.js';
import { TokenStore } from '../../src/auth/token-store.js';
import type { Config } from '../../src/config/config.js';
import { databaseOptions } from '../../src/frontend.js';

/** One API token of each role (named after it), made with the frontend's auth key in its database. */
export async function roleTokens(config: Config, key: string): Promise<Record<'admin' | 'read' | 'submit' | 'worker', string>> {
  const store = new TokenStore(databaseOptions(config));
  try {
    const make = async (role: string): Promise<string> => (await createToken(store, key, { name: role, role })).token;
    return { admin: await make('admin'), read: await make('read'), submit: await make('submit'), worker: await make('worker') };
  } finally {
    await store.close();
  }
}

import { randomBytes } from 'node:crypto';
import { createToken } from '../../src/auth/token-admin.js';
import { TokenStore } from '../../src/auth/token-store.js';
import { databaseOptions } from '../../src/frontend.js';
import { testEngine } from './services.js';
import { bearer, startStack, upload, waitDone, type Stack } from './stack.js';

/** A stack in tokens mode with one token per role, and finished md5 jobs of two owners. */
export interface ApiFixture {
  stack: Stack;
  tokens: { admin: string; read: string; alice: string; bob: string; worker: string };
  /** alice's finished jobs, newest last, and the bodies they hashed. */
  alice: { id: string; body: Buffer; filename: string }[];
  /** bob's finished job. */
  bob: { id: string; body: Buffer; filename: string };
  close(): Promise<void>;
}

/** GETs a path with a token; returns status, headers and the body as text. */
export async function get(url: string, path: string, token?: string, method = 'GET'): Promise<{ status: number; headers: Headers; text: string; json: () => any }> {
  const res = await fetch(`${url}${path}`, { method, headers: bearer(token) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

/** Starts the fixture: the md5 engine image (test/run builds it) runs the jobs. */
export async function startApiFixture(): Promise<ApiFixture> {
  const key = randomBytes(24).toString('hex');
  const stack = await startStack([testEngine('md5', { image: 'menagerie/md5:latest', cmd: '/engine/run', workers: 2 })],
    { overrides: { auth: { mode: 'tokens', key } } });
  const store = new TokenStore(databaseOptions(stack.env.config));
  try {
    const make = async (name: string, role: string, owner?: string): Promise<string> =>
      (await createToken(store, key, { name, role, ...(owner ? { owner } : {}) })).token;
    const tokens = { admin: await make('admin', 'admin'), read: await make('reader', 'read'), alice: await make('alice', 'submit'),
      bob: await make('bob', 'submit'), worker: await make('node1', 'worker') };
    const submit = async (token: string, filename: string): Promise<{ id: string; body: Buffer; filename: string }> => {
      const body = randomBytes(100);
      const res = await upload(stack.url, 'md5', body, { token, filename });
      if (res.status !== 200) throw new Error(`upload: ${res.status} ${JSON.stringify(res.json)}`);
      await waitDone(stack.url, res.json.jobid, 60_000, token);
      return { id: res.json.jobid as string, body, filename };
    };
    const alice = [await submit(tokens.alice, 'a1.bin'), await submit(tokens.alice, 'a2.bin'), await submit(tokens.alice, 'a3.bin')];
    const bob = await submit(tokens.bob, 'b1.bin');
    return { stack, tokens, alice, bob, close: () => stack.close() };
  } catch (err) {
    await stack.close();
    throw err;
  } finally {
    await store.close();
  }
}

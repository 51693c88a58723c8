import { parseArgs } from 'node:util';
import { InvalidError } from '../errors.js';
import { ROLES } from './roles.js';
import { createToken, listTokens, revokeTokens, type TokenListing } from './token-admin.js';
import type { TokenStore } from './token-store.js';

/** The usage of `menagerie token`. */
export const TOKEN_HELP = `usage: menagerie token <create|list|revoke> [options] [--config FILE]

  create --name NAME --role ROLE [--owner OWNER] [--json]
            make an API token and print it (shown this once; only its hash is kept).
            ROLE: submit (upload, read its owner's jobs), read (read every job),
            admin (everything), worker (worker nodes, internal API only).
            OWNER (default: NAME) groups tokens whose holders share their jobs.
  list [--json]
            every token: id, name, owner, role, created, last used, revoked
  revoke ID|NAME
            revoke a token by id, or every active token with that name (takes effect at once)
`;

/** Output and the token store, given by the composition root. */
export interface TokenCommandDeps {
  store: TokenStore;
  key: string;
  out: (text: string) => void;
}

/** Runs `menagerie token ...`; returns the exit code (2: usage). */
export async function runTokenCommand(args: string[], deps: TokenCommandDeps): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest, allowPositionals: true,
    options: { name: { type: 'string' }, role: { type: 'string' }, owner: { type: 'string' }, json: { type: 'boolean' }, config: { type: 'string' } },
  });
  if (sub === 'create') {
    if (!values.name || !values.role) throw new InvalidError('INVALID_REQUEST', `token create needs --name and --role (${ROLES.join(', ')})`);
    const made = await createToken(deps.store, deps.key, { name: values.name, role: values.role, ...(values.owner ? { owner: values.owner } : {}) });
    deps.out(values.json ? `${JSON.stringify({ id: made.id, token: made.token })}\n` : `${made.token}\n`);
    return 0;
  }
  if (sub === 'list') {
    const tokens = await listTokens(deps.store);
    deps.out(values.json ? `${JSON.stringify(tokens)}\n` : table(tokens));
    return 0;
  }
  if (sub === 'revoke') {
    const target = positionals[0];
    if (!target || positionals.length > 1) throw new InvalidError('INVALID_REQUEST', 'token revoke needs one token id or name');
    const n = await revokeTokens(deps.store, target);
    if (n === 0) throw new InvalidError('INVALID_REQUEST', `no active token with id or name "${target}"`);
    deps.out(`revoked ${n} token${n === 1 ? '' : 's'}\n`);
    return 0;
  }
  deps.out(TOKEN_HELP);
  return 2;
}

function table(tokens: TokenListing[]): string {
  const rows = [['ID', 'NAME', 'OWNER', 'ROLE', 'TOKEN', 'CREATED', 'LAST USED', 'REVOKED'],
    ...tokens.map((t) => [t.id, t.name, t.owner, t.role, `mng_${t.hint}…`, t.created, t.lastUsed ?? '-', t.revoked ?? '-'])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

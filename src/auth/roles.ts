/**
 * API token roles and what each may do, in one table. `submit` uploads and reads its owner's
 * jobs; `read` reads every job and the metrics; `admin` does everything, token management included; `worker`
 * is for worker nodes on the internal API and may do nothing on the public one.
 */
export const ROLES = ['submit', 'read', 'admin', 'worker'] as const;
export type Role = (typeof ROLES)[number];

/** What a request wants to do on the public API. */
export type Action = 'submit' | 'read' | 'cancel' | 'admin' | 'metrics';

/** Which roles may do what; `own` means only on jobs of the token's owner. */
const GRANTS: Readonly<Record<Role, Readonly<Partial<Record<Action, 'all' | 'own'>>>>> = {
  submit: { submit: 'all', read: 'own', cancel: 'own' },
  read: { read: 'all', metrics: 'all' },
  admin: { submit: 'all', read: 'all', cancel: 'all', admin: 'all', metrics: 'all' },
  worker: {},
};

/** Who is calling: a token's holder, or anyone when the API is open (`auth.mode: "open"`). */
export type Principal =
  | { kind: 'token'; tokenId: string; name: string; owner: string; role: Role }
  | { kind: 'open' };

/** The principal of the open mode: may do everything the original's open API did. */
export const OPEN: Principal = Object.freeze({ kind: 'open' });

/**
 * Whether `principal` may do `action`: false, or the scope it may do it in (`all`, or
 * `own` for jobs whose owner is the principal's).
 */
export function grant(principal: Principal, action: Action): false | 'all' | 'own' {
  if (principal.kind === 'open') return action === 'admin' ? false : 'all';
  return GRANTS[principal.role][action] ?? false;
}

/** The owner a principal's jobs are recorded under (none in the open mode). */
export function ownerOf(principal: Principal): string | null {
  return principal.kind === 'token' ? principal.owner : null;
}

/** Whether a string names a role. */
export function isRole(s: string): s is Role {
  return (ROLES as readonly string[]).includes(s);
}

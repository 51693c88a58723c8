import type { Context, Next } from 'koa';
import type { Authenticator } from '../auth/authenticator.js';
import { grant, OPEN, type Action, type Principal } from '../auth/roles.js';
import { ForbiddenError, UnauthorizedError } from '../errors.js';
import type { JobScope } from '../jobs/job.js';

/** The caller of a request (set by `authenticate`; the open principal if none ran). */
export function principalOf(ctx: Context): Principal {
  return (ctx.state.principal as Principal | undefined) ?? OPEN;
}

/**
 * Middleware that authenticates every request of the router it is mounted on: a missing or
 * wrong token is a 401 with `WWW-Authenticate: Bearer`, before any body is read.
 */
export function authenticate(auth: Authenticator) {
  return async function authenticateRequest(ctx: Context, next: Next): Promise<void> {
    try {
      ctx.state.principal = await auth.authenticate(ctx.get('authorization') || undefined);
    } catch (err) {
      if (err instanceof UnauthorizedError) ctx.set('WWW-Authenticate', 'Bearer realm="menagerie"');
      throw err;
    }
    await next();
  };
}

/**
 * Checks that the caller may do `action` and returns the jobs it may do it on. A role that
 * may not gets a 403; a `submit` token is scoped to its owner's jobs, and another owner's
 * job is then a plain 404 (its existence is not told).
 */
export function authorize(ctx: Context, action: Action): JobScope {
  const principal = principalOf(ctx);
  const scope = grant(principal, action);
  if (!scope) {
    const who = principal.kind === 'token' ? `a ${principal.role} token` : 'this caller';
    throw new ForbiddenError(`${who} may not ${ACTION_TEXT[action]}`);
  }
  return scope === 'own' && principal.kind === 'token' ? { owner: principal.owner } : {};
}

const ACTION_TEXT: Readonly<Record<Action, string>> = {
  submit: 'submit jobs',
  read: 'read jobs',
  cancel: 'cancel or retry jobs',
  admin: 'administer the appliance',
  metrics: 'read the metrics',
};

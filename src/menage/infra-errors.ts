import { InfrastructureError } from '../errors.js';

/*
 * A failed Docker call (or a failed call to the frontend inside one of ours) is an
 * InfrastructureError naming what could not be done; the worker tells outages from job
 * failures by it (and by its causes).
 */

/** Runs `fn`; its failure becomes an InfrastructureError "cannot <what>: …". */
export async function infra<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw asInfra(what, err);
  }
}

/** `err` as an InfrastructureError "cannot <what>: …" (one already is stays as it is). */
export function asInfra(what: string, err: unknown): InfrastructureError {
  if (err instanceof InfrastructureError) return err;
  return new InfrastructureError(`cannot ${what}: ${(err as Error).message}`, { cause: err });
}

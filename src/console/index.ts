import type Router from '@koa/router';
import type { Authenticator } from '../auth/authenticator.js';
import type { MonitorSource } from '../jobs/monitor-queries.js';
import { monitorRoutes } from './monitor-routes.js';
import type { PolicySource } from './policy.js';
import { consoleRoutes, loadAssets } from './static.js';

export { CONSOLE_DIR, CONSOLE_CSP } from './static.js';
export { enforcerPolicy } from './policy.js';

/** What the console needs from the frontend's composition root. */
export interface ConsoleDeps {
  queries: MonitorSource;
  engines: () => readonly string[];
  auth: Authenticator;
  policy: PolicySource;
  /** The console's files; without it only the console API (/monitor/...) is served. */
  dir?: string;
}

/** The console's routers for the public listener: its API, and its files when `dir` is set. */
export function consoleRouters(deps: ConsoleDeps): Router[] {
  const routers = [monitorRoutes(deps)];
  if (deps.dir !== undefined) routers.push(consoleRoutes(loadAssets(deps.dir)));
  return routers;
}

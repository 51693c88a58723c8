/**
 * The Docker API endpoints menage uses, and nothing else. For each: the methods, the
 * resource it acts on (checked to belong to this deployment before it is forwarded), the
 * query parameters Docker reads that menage may send (every other parameter is dropped, so
 * Docker only sees what was judged), those it must not send, and what its body is.
 */
export type Resource = 'none' | 'container' | 'volume' | 'image';

/** What the request body is: ignored (never forwarded), a JSON body to judge, or a tar stream. */
export type BodyKind = 'none' | 'container-create' | 'volume-create' | 'tar';

/** How a list endpoint's `filters` must narrow the answer to this deployment. */
export type ListScope = 'none' | 'label' | 'label-or-containers';

/** One allowed endpoint. */
export interface Route {
  readonly name: string;
  readonly methods: readonly string[];
  readonly resource: Resource;
  /** Query parameters forwarded (when given); anything else is dropped. */
  readonly keep: readonly string[];
  /** Parameters Docker reads that menage never sends: their presence is refused. */
  readonly refuse?: readonly string[];
  readonly body: BodyKind;
  readonly scope: ListScope;
  /** True for attach: an HTTP upgrade (hijacked connection) is allowed. */
  readonly upgrade?: boolean;
}

const route = (r: Partial<Route> & Pick<Route, 'name' | 'methods'>): Route => ({ resource: 'none', keep: [], body: 'none', scope: 'none', ...r });

/** Routes without a resource id, by their path. */
const FIXED: Record<string, Route> = {
  '_ping': route({ name: 'ping', methods: ['GET', 'HEAD'] }),
  'version': route({ name: 'version', methods: ['GET'] }),
  'info': route({ name: 'info', methods: ['GET'] }),
  'events': route({ name: 'events', methods: ['GET'], keep: ['since', 'until', 'filters'], scope: 'label-or-containers' }),
  'containers/json': route({ name: 'container-list', methods: ['GET'], keep: ['all', 'limit', 'size', 'filters'], scope: 'label' }),
  'containers/create': route({ name: 'container-create', methods: ['POST'], refuse: ['name', 'platform'], body: 'container-create' }),
  'volumes': route({ name: 'volume-list', methods: ['GET'], keep: ['filters'], scope: 'label' }),
  'volumes/create': route({ name: 'volume-create', methods: ['POST'], body: 'volume-create' }),
  // A pull, of exactly an engine's image (judge.ts); never an import (fromSrc) or a commit.
  'images/create': route({ name: 'image-pull', methods: ['POST'], keep: ['fromImage', 'tag'], refuse: ['fromSrc', 'repo', 'message', 'changes', 'platform'] }),
};

/** Per-container routes: /containers/{id}/{action}; '' is /containers/{id} itself. */
const CONTAINER: Record<string, Route> = {
  'start': route({ name: 'container-start', methods: ['POST'], resource: 'container', refuse: ['detachKeys'] }),
  'wait': route({ name: 'container-wait', methods: ['POST'], resource: 'container', keep: ['condition'] }),
  'json': route({ name: 'container-inspect', methods: ['GET'], resource: 'container', keep: ['size'] }),
  'archive': route({ name: 'container-archive', methods: ['GET', 'HEAD', 'PUT'], resource: 'container', keep: ['path', 'noOverwriteDirNonDir', 'copyUIDGID'], body: 'tar' }),
  'attach': route({ name: 'container-attach', methods: ['POST'], resource: 'container', keep: ['stream', 'stdout', 'stderr', 'logs'], refuse: ['stdin', 'detachKeys'], upgrade: true }),
  'kill': route({ name: 'container-kill', methods: ['POST'], resource: 'container', keep: ['signal'] }),
  '': route({ name: 'container-remove', methods: ['DELETE'], resource: 'container', keep: ['force', 'v', 'link'] }),
};

const VOLUME_REMOVE = route({ name: 'volume-remove', methods: ['DELETE'], resource: 'volume', keep: ['force'] });
const IMAGE_INSPECT = route({ name: 'image-inspect', methods: ['GET'], resource: 'image' });

const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const IMAGE_REF = /^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,254}$/;

/** A matched route and the resource id in its path. */
export interface RouteMatch {
  readonly route: Route;
  /** The container, volume or image named in the path ('' when none). */
  readonly ref: string;
  /** Rebuilds the path segments with the resource id Docker must see (the resolved full id). */
  readonly segments: (ref: string) => string[];
}

/** Finds the route for a method and path; undefined when menage has no business there. */
export function matchRoute(method: string, segments: readonly string[]): RouteMatch | undefined {
  const m = findRoute(segments);
  return m && m.route.methods.includes(method) ? m : undefined;
}

function findRoute(s: readonly string[]): RouteMatch | undefined {
  const fixed = FIXED[s.join('/')];
  if (fixed) return { route: fixed, ref: '', segments: () => [...s] };
  if (s[0] === 'containers' && (s.length === 2 || s.length === 3) && ID.test(s[1]!)) {
    const r = CONTAINER[s[2] ?? ''];
    if (r) return { route: r, ref: s[1]!, segments: (id) => ['containers', id, ...s.slice(2)] };
  }
  if (s[0] === 'volumes' && s.length === 2 && ID.test(s[1]!)) return { route: VOLUME_REMOVE, ref: s[1]!, segments: (id) => ['volumes', id] };
  if (s[0] === 'images' && s.length >= 3 && s[s.length - 1] === 'json') {
    const ref = s.slice(1, -1).join('/');
    if (IMAGE_REF.test(ref)) return { route: IMAGE_INSPECT, ref, segments: (id) => ['images', id, 'json'] };
  }
  return undefined;
}

import { kitDeployment, LABELS } from '../contract/labels.js';
import { BadFilters, formatFilters, parseFilters, requiresLabel } from './filters.js';
import type { ProxyPolicy } from './policy.js';
import { BadTarget, parseTarget } from './request-target.js';
import { matchRoute, type Route, type RouteMatch } from './routes.js';

/** A refusal: the status and the message the client gets. */
export interface Refusal {
  readonly allow: false;
  readonly status: 400 | 403 | 404 | 413;
  readonly message: string;
}

/** A request that may go on once its resource is known to be this deployment's. */
export interface Admission {
  readonly allow: true;
  readonly route: Route;
  readonly match: RouteMatch;
  readonly version: string | undefined;
  /** The query Docker will see (judged, re-encoded). */
  readonly query: readonly (readonly [string, string])[];
  /** Containers an events filter names: each must be this deployment's. */
  readonly containers: readonly string[];
  /** The image an image pull was allowed for (one of the engines' references), else undefined. */
  readonly image?: string;
}

export type Decision = Refusal | Admission;

const FULL_ID = /^[0-9a-f]{64}$/;

/** Refuses with 403 and a message. */
export function deny(message: string, status: Refusal['status'] = 403): Refusal {
  return { allow: false, status, message: `refused by the Docker API proxy: ${message}` };
}

/**
 * Judges a request line (pure): the endpoint must be one menage uses, with the method it
 * uses, and its query must say nothing menage never says. Resource ownership and bodies are
 * judged afterwards (they need the daemon and the body).
 */
export function judgeRequest(method: string, url: string, upgrade: boolean, policy: Pick<ProxyPolicy, 'deployment' | 'images'>): Decision {
  let target;
  try {
    target = parseTarget(url);
  } catch (err) {
    if (err instanceof BadTarget) return deny(err.message, 400);
    throw err;
  }
  const match = matchRoute(method, target.segments);
  if (!match) return deny(`${method} /${target.segments.join('/')} is not an endpoint menage uses`);
  const { route } = match;
  if (upgrade && !route.upgrade) return deny(`${route.name} cannot be upgraded to a raw stream`);
  const query: [string, string][] = [];
  let containers: string[] = [];
  for (const [key, value] of target.query) {
    if (route.refuse?.includes(key)) return deny(`${route.name} with "${key}" is not something menage does`);
    if (!route.keep.includes(key)) continue; // Docker does not read it: dropped, never forwarded
    if (query.some(([k]) => k === key)) return deny(`the query parameter "${key}" is given twice`, 400);
    if (key !== 'filters') {
      query.push([key, value]);
      continue;
    }
    const scoped = judgeFilters(value, route, policy.deployment);
    if (!scoped.allow) return scoped;
    query.push([key, scoped.filters]);
    containers = scoped.containers;
  }
  if (route.scope !== 'none' && !query.some(([k]) => k === 'filters')) {
    return deny(`${route.name} must be filtered by label ${LABELS.deployment}=${policy.deployment}`);
  }
  const pull = route.name === 'image-pull' ? judgePull(query, policy.images) : undefined;
  if (pull && !pull.allow) return pull;
  return { allow: true, route, match, version: target.version, query, containers, image: pull?.image };
}

/** A pull is allowed only for one of the engines' own image references; the image it pulls. */
function judgePull(query: readonly (readonly [string, string])[], allowed: ReadonlySet<string>): Refusal | { allow: true; image: string } {
  const images = pulledImages(query);
  if (!images.some((i) => allowed.has(i))) return deny(`pulling ${JSON.stringify(images[0] ?? '')}: only the engines' own image references may be pulled`);
  return { allow: true, image: images[0]! };
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/**
 * The image references a pull may stand for, as engines.json writes them (`repo:tag`,
 * `repo@digest`, `repo:tag@digest`, or `repo` for `repo:latest`). Without a tag Docker would
 * pull every tag of the repository, and a tag on top of a tagged name is ambiguous: neither
 * names one image, so they stand for none.
 */
export function pulledImages(query: readonly (readonly [string, string])[]): string[] {
  const from = query.find(([k]) => k === 'fromImage')?.[1] ?? '';
  const tag = query.find(([k]) => k === 'tag')?.[1] ?? '';
  if (!from || !tag) return [];
  if (DIGEST.test(tag)) return [`${from}@${tag}`];
  const name = from.slice(from.lastIndexOf('/') + 1);
  if (name.includes(':') || name.includes('@')) return [];
  return tag === 'latest' ? [`${from}:${tag}`, from] : [`${from}:${tag}`];
}

function judgeFilters(text: string, route: Route, deployment: string): Refusal | { allow: true; filters: string; containers: string[] } {
  let filters;
  try {
    filters = parseFilters(text);
  } catch (err) {
    if (err instanceof BadFilters) return deny(err.message, 400);
    throw err;
  }
  const formatted = formatFilters(filters);
  // The conformance kit's containers carry the kit's deployment label (labelsAreOurs); menage
  // lists its read-only engine data volumes to check they exist (menage/daemon-check.ts).
  if (requiresLabel(filters, LABELS.deployment, deployment) || requiresLabel(filters, LABELS.deployment, kitDeployment(deployment))
    || (route.name === 'volume-list' && requiresLabel(filters, LABELS.engineData, deployment))) return { allow: true, filters: formatted, containers: [] };
  const named = filters.get('container') ?? [];
  // Docker's event filter matches container ids by prefix: only full ids name one container.
  if (route.scope === 'label-or-containers' && named.length > 0 && named.every((id) => FULL_ID.test(id))) {
    return { allow: true, filters: formatted, containers: [...named] };
  }
  const or = route.scope === 'label-or-containers' ? ' or by full ids of its containers' : '';
  return deny(`${route.name} must be filtered by label ${LABELS.deployment}=${deployment}${or}`);
}

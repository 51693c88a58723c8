import type { ContainerModel, MountModel } from './container-model.js';
import type { ContainerMetrics } from './stats.js';

/** Where a subject was seen: a create request (gate or AuthZ) or a running container. */
export type Source = 'create' | 'authz' | 'periodic' | 'event';

/** Everything one rule evaluation can look at. Absent parts read as missing values. */
export interface Subject {
  readonly source: Source;
  readonly container: ContainerModel;
  readonly metrics?: ContainerMetrics;
  readonly host?: { readonly running: number; readonly startPosition: number };
}

/** The type of a field; it decides which operators a rule may apply to it. */
export type Kind = 'string' | 'number' | 'boolean' | 'strings' | 'map' | 'mounts';

/** A typed, readable field. */
export interface FieldDef {
  readonly kind: Kind;
  readonly get: (scope: unknown) => unknown;
}

const CONTAINER_FIELDS: Record<string, Kind> = {
  id: 'string', name: 'string', image: 'string', imageId: 'string', labels: 'map', user: 'string',
  cmd: 'strings', env: 'strings', running: 'boolean', startedAt: 'number', privileged: 'boolean',
  readonlyRootfs: 'boolean', networkMode: 'string', pidMode: 'string', ipcMode: 'string',
  utsMode: 'string', usernsMode: 'string', memory: 'number', memorySwap: 'number', nanoCpus: 'number',
  cpuQuota: 'number', pidsLimit: 'number', capAdd: 'strings', capDrop: 'strings', securityOpt: 'strings',
  mounts: 'mounts', devices: 'strings', restartPolicy: 'string', publishAllPorts: 'boolean',
  portBindings: 'strings',
};

const METRIC_FIELDS: Record<string, Kind> = {
  memoryUsage: 'number', memoryLimit: 'number', memoryPercent: 'number', cpuPercent: 'number',
  pids: 'number', blockRead: 'number', blockWrite: 'number', netRx: 'number', netTx: 'number',
};

const HOST_FIELDS: Record<string, Kind> = { running: 'number', startPosition: 'number' };

const MOUNT_FIELDS: Record<keyof MountModel, Kind> = { type: 'string', source: 'string', target: 'string', readOnly: 'boolean' };

const GROUPS: Record<string, Record<string, Kind>> = { container: CONTAINER_FIELDS, metrics: METRIC_FIELDS, host: HOST_FIELDS };

/** Every field path a top-level condition may name (for docs and error messages). */
export function fieldNames(): string[] {
  const out = ['source'];
  for (const [group, fields] of Object.entries(GROUPS)) {
    for (const [name, kind] of Object.entries(fields)) out.push(kind === 'map' ? `${group}.${name}.<key>` : `${group}.${name}`);
  }
  return out;
}

/** Resolves a field path on a subject; `container.labels.<key>` takes the rest as the key. */
export function subjectField(path: string): FieldDef | undefined {
  if (path === 'source') return { kind: 'string', get: (s) => (s as Subject).source };
  const dot = path.indexOf('.');
  if (dot < 0) return undefined;
  const group = path.slice(0, dot);
  const fields = GROUPS[group];
  if (!fields) return undefined;
  const rest = path.slice(dot + 1);
  const pick = (s: unknown): Record<string, unknown> | undefined => (s as Record<string, Record<string, unknown> | undefined>)[group];
  const kind = Object.hasOwn(fields, rest) ? fields[rest] : undefined;
  if (kind) return { kind, get: (s) => pick(s)?.[rest] };
  const mapDot = rest.indexOf('.');
  const mapName = rest.slice(0, mapDot);
  if (mapDot > 0 && fields[mapName] === 'map') {
    const key = rest.slice(mapDot + 1);
    return { kind: 'string', get: (s) => lookup(pick(s)?.[mapName], key) };
  }
  return undefined;
}

/** Resolves a field of an array element (`mounts` elements have fields; strings are themselves). */
export function elementField(arrayKind: Kind, path: string | undefined): FieldDef | undefined {
  if (arrayKind === 'strings') return path === undefined || path === '' ? { kind: 'string', get: (e) => e } : undefined;
  if (arrayKind === 'mounts' && path !== undefined && Object.hasOwn(MOUNT_FIELDS, path)) {
    return { kind: MOUNT_FIELDS[path as keyof MountModel], get: (e) => (e as Record<string, unknown>)[path] };
  }
  return undefined;
}

function lookup(map: unknown, key: string): unknown {
  if (map === null || typeof map !== 'object') return undefined;
  return Object.hasOwn(map, key) ? (map as Record<string, unknown>)[key] : undefined;
}

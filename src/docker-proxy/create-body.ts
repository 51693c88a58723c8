import { Ajv, type ErrorObject } from 'ajv';
import { evaluateCreate, formatViolations } from '../enforcer/index.js';
import { kitDeployment, LABELS } from '../contract/labels.js';
import { tmpfsKey, volumeKey, type ProxyPolicy } from './policy.js';

const str = { type: 'string' };
const bool = { type: 'boolean' };
const int = { type: 'integer' };
const strList = { type: 'array', items: str, maxItems: 256 };
const labels = { type: 'object', additionalProperties: str, maxProperties: 64 };
const none = { type: 'array', maxItems: 0 };
const empty = { type: 'object', maxProperties: 0 };
const closed = (properties: Record<string, unknown>, required: string[] = []) => ({ type: 'object', additionalProperties: false, required, properties });

/**
 * Every field menage's create bodies use (menage/container-spec.ts, capped-volume.ts), with
 * the exact spelling Docker documents: any other key, another spelling of one of these, or
 * a value menage never sends (privileged, binds, devices, host namespaces, a network) is refused.
 */
const mount = closed({
  Type: { const: 'volume' }, Source: str, Target: { type: 'string', pattern: '^/' }, ReadOnly: bool,
  VolumeOptions: closed({ NoCopy: bool, Labels: labels, DriverConfig: closed({ Name: { enum: ['', 'local'] }, Options: empty }) }),
}, ['Type', 'Target']);
const hostConfig = closed({
  NetworkMode: { const: 'none' }, ReadonlyRootfs: bool, CapDrop: strList, CapAdd: none, Privileged: { const: false },
  SecurityOpt: strList, PidsLimit: int, Memory: int, MemorySwap: int, NanoCpus: int,
  Tmpfs: { type: 'object', additionalProperties: str, maxProperties: 32 }, Binds: none, Mounts: { type: 'array', items: mount, maxItems: 8 },
  IpcMode: { enum: ['', 'none', 'private'] }, PidMode: { const: '' }, UTSMode: { const: '' },
  LogConfig: closed({ Type: { const: 'none' }, Config: empty }), RestartPolicy: closed({ Name: { enum: ['', 'no'] }, MaximumRetryCount: { const: 0 } }),
  AutoRemove: { const: false }, Runtime: str,
}, ['NetworkMode']);
const containerSchema = closed({
  Image: str, Cmd: strList, User: str, WorkingDir: str, Labels: labels, AttachStdout: bool, AttachStderr: bool,
  Tty: { const: false }, OpenStdin: { const: false }, NetworkDisabled: { const: true }, HostConfig: hostConfig,
}, ['Image', 'Labels', 'HostConfig', 'NetworkDisabled']);
/** A size-capped tmpfs volume (capped-volume.ts); the local driver's other types would bind host paths. */
const volumeSchema = closed({
  Name: { type: 'string', pattern: '^menagerie-[A-Za-z0-9_.-]{1,100}$' }, Driver: { const: 'local' }, Labels: labels,
  DriverOpts: closed({
    type: { const: 'tmpfs' }, device: { const: 'tmpfs' },
    o: { type: 'string', pattern: '^size=[0-9]+[kmgKMG]?(,(mode=[0-7]{3,4}|uid=[0-9]+|gid=[0-9]+|nosuid|nodev|noexec))*$' },
  }, ['type', 'device', 'o']),
}, ['Name', 'Driver', 'Labels', 'DriverOpts']);

const ajv = new Ajv({ allErrors: true, strict: true });
const checkContainer = ajv.compile(containerSchema);
const checkVolume = ajv.compile(volumeSchema);

/**
 * Problems with a container create body (empty: allowed), the named volumes it mounts (to be
 * checked as ours: size-capped input volumes) and the read-only engine data volumes it mounts
 * (engines.json `volumes`: to be checked as labelled for this deployment and not host-backed).
 */
export function judgeContainerCreate(body: unknown, policy: ProxyPolicy): { problems: string[]; volumes: string[]; dataVolumes: string[] } {
  if (!checkContainer(body)) return { problems: schemaProblems(checkContainer.errors), volumes: [], dataVolumes: [] };
  const b = body as { Image: string; Cmd?: string[]; User?: string; WorkingDir?: string; Labels: Record<string, string>; HostConfig: Record<string, unknown> };
  const hc = b.HostConfig as { Runtime?: string; SecurityOpt?: string[]; Tmpfs?: Record<string, string>; Mounts?: { Source?: string; Target: string; ReadOnly?: boolean; VolumeOptions?: { Labels?: Record<string, string> } }[] };
  const problems: string[] = [];
  if (!policy.images.has(b.Image)) problems.push(`image "${b.Image}" is not one of this deployment's engine images`);
  else problems.push(...commandProblems(b, policy));
  problems.push(...labelProblems(b.Labels, 'Labels', policy.deployment));
  if (hc.Runtime !== undefined && hc.Runtime !== '' && !policy.runtimes.has(hc.Runtime)) problems.push(`runtime "${hc.Runtime}" is not one an engine asks for`);
  for (const opt of hc.SecurityOpt ?? []) {
    const p = securityOptProblem(opt, policy);
    if (p) problems.push(p);
  }
  for (const [key, max] of Object.entries(policy.limits)) {
    const value = (hc as Record<string, number | undefined>)[key] ?? 0;
    // 0 (or -1 for swap) is unlimited in Docker: allowed only when an engine itself asks for no limit.
    if (value > max || (value <= 0 && max !== Infinity)) problems.push(`HostConfig.${key} ${value} is outside what the engines ask for (at most ${max})`);
  }
  for (const [path, opts] of Object.entries(hc.Tmpfs ?? {})) {
    if (!policy.tmpfs.has(tmpfsKey(path, opts))) problems.push(`tmpfs ${JSON.stringify(path)} with ${JSON.stringify(opts)} is not one an engine asks for`);
  }
  const volumes: string[] = [];
  const dataVolumes: string[] = [];
  for (const [i, m] of (hc.Mounts ?? []).entries()) {
    // Exactly as an engine declares it, read-only: anything else is judged as an input volume.
    if (m.Source && m.ReadOnly === true && m.VolumeOptions === undefined && policy.readonlyVolumes.has(volumeKey(m.Target, m.Source))) dataVolumes.push(m.Source);
    else if (m.Source) volumes.push(m.Source);
    else problems.push(...labelProblems(m.VolumeOptions?.Labels ?? {}, `HostConfig.Mounts[${i}].VolumeOptions.Labels`, policy.deployment));
  }
  // The engine policy too, whatever else is wrong: every problem is reported at once.
  const violations = evaluateCreate(policy.rules, body);
  if (violations.length) problems.push(`the engine policy (${policy.rules.file}): ${formatViolations(violations)}`);
  return { problems, volumes, dataVolumes };
}

/** Problems with a volume create body (empty: allowed). */
export function judgeVolumeCreate(body: unknown, policy: ProxyPolicy): string[] {
  if (!checkVolume(body)) return schemaProblems(checkVolume.errors);
  return labelProblems((body as { Labels: Record<string, string> }).Labels, 'Labels', policy.deployment);
}

/** Problems with the labels of a container or volume: it must be managed by this deployment. */
export function labelProblems(labels: Record<string, string>, where: string, deployment: string): string[] {
  return labelsAreOurs(labels, deployment) ? [] : [`${where} must carry ${LABELS.managed}=true and ${LABELS.deployment}=${deployment}`];
}

/**
 * True when labels mark a container or volume as this deployment's: its jobs, or the
 * conformance kit a reload runs (deployment `<deployment>-kit`). Both are judged by the same
 * create-body policy; the kit's label only keeps the live deployment's sweeper away from them.
 */
export function labelsAreOurs(labels: Record<string, string> | null | undefined, deployment: string): boolean {
  const d = labels?.[LABELS.deployment];
  return labels?.[LABELS.managed] === 'true' && (d === deployment || d === kitDeployment(deployment));
}

/** The command, user and working directory must be an engine's (for its image), or the holder's `sleep N`. */
function commandProblems(b: { Image: string; Cmd?: string[]; User?: string; WorkingDir?: string }, policy: ProxyPolicy): string[] {
  const cmd = JSON.stringify(b.Cmd ?? []);
  const holder = b.Image === policy.holderImage && /^\["sleep","[0-9]{1,7}"\]$/.test(cmd);
  const problems: string[] = [];
  if (!holder && !policy.commands.get(b.Image)?.has(cmd)) problems.push(`command ${cmd.slice(0, 100)} is not what an engine of image "${b.Image}" runs`);
  if (!policy.users.has(b.User ?? '')) problems.push(`user ${JSON.stringify(b.User ?? '')} is not one an engine runs as`);
  if (b.WorkingDir !== undefined && b.WorkingDir !== '' && !policy.workdirs.has(b.WorkingDir)) problems.push(`working directory ${JSON.stringify(b.WorkingDir)} is not an engine's mountpoint`);
  return problems;
}

function securityOptProblem(opt: string, policy: ProxyPolicy): string | undefined {
  if (/^no-new-privileges([:=]true)?$/.test(opt)) return undefined;
  const m = /^(apparmor|seccomp)[=:]([\s\S]*)$/.exec(opt);
  const allowed = m?.[1] === 'apparmor' ? policy.apparmor : m?.[1] === 'seccomp' ? policy.seccomp : undefined;
  if (allowed?.has(m![2]!)) return undefined;
  return `security option ${JSON.stringify(opt.length > 60 ? `${opt.slice(0, 60)}...` : opt)} is not one an engine asks for`;
}

function schemaProblems(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((e) => {
    const where = e.instancePath || '/';
    if (e.keyword === 'additionalProperties') return `${where}: field ${JSON.stringify((e.params as { additionalProperty: string }).additionalProperty)} is not allowed`;
    if (e.keyword === 'const') return `${where} must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}`;
    return `${where} ${e.message ?? 'is not allowed'}`;
  });
}

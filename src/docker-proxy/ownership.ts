import { getFromDocker, jsonOf, type UpstreamReply } from './upstream.js';
import { labelsAreOurs } from './create-body.js';
import { LABELS } from '../contract/labels.js';

/** Whose a container, volume or image is: this deployment's (with its full id), missing, or someone else's. */
export type Owner = { kind: 'ours'; id: string; reply?: UpstreamReply } | { kind: 'missing'; reply: UpstreamReply } | { kind: 'foreign' };

/**
 * Looks resources up on the real daemon before a request about them is forwarded. A
 * container's labels never change, so a container found to be ours is remembered by its
 * full id for a while (menage asks about the same container many times per job); the
 * request then goes to Docker with that full id, never with a name or prefix that could
 * come to mean another container.
 */
export class Ownership {
  readonly #known = new Map<string, number>();

  constructor(private readonly socketPath: string, private readonly deployment: string, private readonly ttlMs = 60_000, private readonly max = 10_000) {}

  /** A container: ours when labelled with this deployment. */
  async container(ref: string): Promise<Owner> {
    const until = this.#known.get(ref);
    if (until !== undefined && until > Date.now()) return { kind: 'ours', id: ref };
    const reply = await getFromDocker(this.socketPath, `/containers/${ref}/json`);
    if (reply.status === 404) return { kind: 'missing', reply };
    const info = expectOk(reply, 'container') as { Id?: string; Config?: { Labels?: Record<string, string> } };
    if (!labelsAreOurs(info.Config?.Labels, this.deployment) || typeof info.Id !== 'string') return { kind: 'foreign' };
    this.#remember(info.Id);
    return { kind: 'ours', id: info.Id };
  }

  /** A volume: ours when labelled with this deployment and not backed by a host path. */
  async volume(name: string): Promise<Owner> {
    const reply = await getFromDocker(this.socketPath, `/volumes/${name}`);
    if (reply.status === 404) return { kind: 'missing', reply };
    const v = expectOk(reply, 'volume') as { Name?: string; Driver?: string; Labels?: Record<string, string>; Options?: Record<string, string> | null };
    const type = v.Options?.type;
    const hostBacked = v.Driver !== 'local' || (type !== undefined && type !== 'tmpfs') || /\bbind\b/.test(v.Options?.o ?? '');
    return labelsAreOurs(v.Labels, this.deployment) && !hostBacked && v.Name === name ? { kind: 'ours', id: name } : { kind: 'foreign' };
  }

  /**
   * A read-only engine data volume (engines.json `volumes`): ours when labelled
   * `org.menagerie.engine-data=<deployment>` and a plain local volume (no driver options:
   * no bind of a host path, no tmpfs or remote mount).
   */
  async engineData(name: string): Promise<Owner> {
    const reply = await getFromDocker(this.socketPath, `/volumes/${name}`);
    if (reply.status === 404) return { kind: 'missing', reply };
    const v = expectOk(reply, 'volume') as { Name?: string; Driver?: string; Labels?: Record<string, string> | null; Options?: Record<string, string> | null };
    const plain = v.Driver === 'local' && Object.keys(v.Options ?? {}).length === 0;
    return plain && v.Labels?.[LABELS.engineData] === this.deployment && v.Name === name ? { kind: 'ours', id: name } : { kind: 'foreign' };
  }

  /** An image: ours when tagged as one of the allowed images; the inspect answer comes along. */
  async image(ref: string, images: ReadonlySet<string>): Promise<Owner> {
    const reply = await getFromDocker(this.socketPath, `/images/${ref}/json`);
    if (reply.status === 404) return { kind: 'missing', reply };
    const info = expectOk(reply, 'image') as { Id?: string; RepoTags?: string[] | null };
    const allowed = new Set([...images].map(withTag));
    const ours = (info.RepoTags ?? []).some((t) => allowed.has(withTag(t)));
    return ours && typeof info.Id === 'string' ? { kind: 'ours', id: info.Id, reply } : { kind: 'foreign' };
  }

  /** Forgets a removed container. */
  forget(id: string): void {
    this.#known.delete(id);
  }

  #remember(id: string): void {
    this.#known.delete(id);
    this.#known.set(id, Date.now() + this.ttlMs);
    if (this.#known.size > this.max) this.#known.delete(this.#known.keys().next().value as string);
  }
}

function expectOk(reply: UpstreamReply, what: string): unknown {
  const body = jsonOf(reply);
  if (reply.status !== 200 || body === null || typeof body !== 'object') throw new Error(`the Docker daemon answered the ${what} inspect with HTTP ${reply.status}`);
  return body;
}

/** `name` → `name:latest` (Docker's default tag); digests and tags stay as they are. */
function withTag(image: string): string {
  const last = image.slice(image.lastIndexOf('/') + 1);
  return last.includes(':') || last.includes('@') ? image : `${image}:latest`;
}

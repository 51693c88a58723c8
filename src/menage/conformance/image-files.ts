import type Docker from 'dockerode';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract } from 'tar-stream';
import type { Engine } from '../../engines/engines.js';
import { buildContainerSpec } from '../container-spec.js';

/** Caps on what is read out of an image: its files are as hostile as its engine. */
const MAX_FILES = 1000;
const MAX_BYTES = 128 * 1024 * 1024;

/**
 * Reads a file or folder an engine's image holds (`path`) into memory: name (relative, as the
 * archive has it: `golden/<case>/input`, `framework-res.apk`) → bytes. It goes through a
 * container that is created but never started, with the engine's own job settings and the
 * kit's labels (`deployment`): the Docker API proxy judges it as any job container, and
 * nothing touches menage's disk. Only regular files are kept; links, devices, `..` and
 * absolute names are skipped; counts and sizes are capped. Missing path: an empty map.
 */
export async function readOutOfImage(docker: Docker, engine: Engine, deployment: string, path: string): Promise<Map<string, Buffer>> {
  // Without the engine's read-only volumes: only the image's files are read (and Docker would
  // create a missing named volume, empty and unlabelled).
  const bare: Engine = { ...engine, containment: { ...engine.containment, volumes: {} } };
  const spec = buildContainerSpec(bare, { deployment, jobId: 'image-files', attempt: 1, node: 'conformance-kit', deadline: Date.now() + 5 * 60_000 });
  const container = await docker.createContainer(spec);
  const files = new Map<string, Buffer>();
  try {
    const archive = (await container.getArchive({ path })) as Readable;
    const tar = extract();
    let bytes = 0;
    tar.on('entry', (header, stream, next) => {
      const name = posix.normalize(header.name).replace(/^\/+/, '');
      const safe = header.type === 'file' && !name.split('/').includes('..') && files.size < MAX_FILES && (bytes += header.size ?? 0) <= MAX_BYTES;
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => {
        if (safe) chunks.push(c as Buffer);
      });
      stream.on('error', next);
      stream.on('end', () => {
        if (safe) files.set(name, Buffer.concat(chunks));
        next();
      });
    });
    await pipeline(archive, tar);
    return files;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return files;
    throw err;
  } finally {
    // v: its anonymous input volume goes too.
    await container.remove({ force: true, v: true }).catch(() => undefined);
  }
}

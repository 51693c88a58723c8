import type Docker from 'dockerode';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract } from 'tar-stream';

/** Caps on what is copied out of an image: its files are as hostile as its engine. */
const MAX_FILES = 1000;
const MAX_BYTES = 256 * 1024 * 1024;

/**
 * Copies a file or folder an image holds (`path`) to `to` on this host, through a container
 * that is created but never started. Only regular files and folders are written, under `to`
 * only; links, devices, `..` and absolute names are skipped; counts and sizes are capped.
 * Returns how many files were written.
 */
export async function copyOutOfImage(docker: Docker, image: string, path: string, to: string): Promise<number> {
  const container = await docker.createContainer({ Image: image, Cmd: ['true'], NetworkDisabled: true, HostConfig: { NetworkMode: 'none' } });
  try {
    const archive = (await container.getArchive({ path })) as Readable;
    const tar = extract();
    let files = 0;
    let bytes = 0;
    tar.on('entry', (header, stream, next) => {
      const name = posix.normalize(header.name).replace(/^\/+/, '');
      const safe = header.type === 'file' && !name.split('/').includes('..') && files < MAX_FILES && (bytes += header.size ?? 0) <= MAX_BYTES;
      if (!safe) {
        stream.resume();
        stream.on('end', next);
        return;
      }
      files++;
      const target = join(to, name);
      mkdir(dirname(target), { recursive: true })
        .then(() => pipeline(stream, createWriteStream(target, { flags: 'wx' })))
        .then(() => next(), next);
    });
    await pipeline(archive, tar);
    return files;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return 0;
    throw err;
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}

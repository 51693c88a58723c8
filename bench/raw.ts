import Docker from 'dockerode';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import type { Engine } from '../src/engines/engines.js';
import { buildContainerSpec } from '../src/menage/container-spec.js';
import { packInput, readResultArchive } from '../src/menage/result-archive.js';

/**
 * The baseline: the same hardened job done by hand with dockerode, as a script would (create
 * the container from Menagerie's own spec, put the input, start, wait, read the result archive,
 * remove with its volume). No queue, database, lease, attach, inspect or report.
 */
export async function rawJob(docker: Docker, engine: Engine, deployment: string, i: number, input: Buffer): Promise<void> {
  const spec = buildContainerSpec(engine, { deployment, jobId: `raw-${i}`, attempt: 1, node: deployment, deadline: Date.now() + engine.timeoutMs + 60_000 });
  const container = await docker.createContainer(spec);
  try {
    await container.putArchive(packInput(engine.inputfilename, Readable.from([input]), input.length, { uid: 65534, gid: 65534 }), { path: engine.mountpoint });
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    if (StatusCode !== 0) throw new Error(`raw job ${i}: exit code ${StatusCode}`);
    const archive = (await container.getArchive({ path: posix.join(engine.mountpoint, 'result') })) as Readable;
    let got = 0;
    await readResultArchive(archive, engine.containment.resultLimit, async (body) => {
      for await (const chunk of body) got += (chunk as Buffer).length;
    });
    if (got !== input.length) throw new Error(`raw job ${i}: result has ${got} bytes, expected ${input.length}`);
  } finally {
    await container.remove({ force: true, v: true }).catch(() => undefined);
  }
}

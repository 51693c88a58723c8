import { Readable } from 'node:stream';
import { ConflictError, NotFoundError } from '../../../src/errors.js';
import type { Job } from '../../../src/jobs/job.js';
import type { JobService } from '../../../src/jobs/service.js';
import type { FileStore } from '../../../src/storage/file-store.js';

export const LEASE = 'a'.repeat(32);

/** A job as the fake service keeps it. */
export function fakeJob(id: string, fields: Partial<Job> = {}): Job {
  return {
    id, engine: 'copy', filename: 'f', size: 5, sha256: 'x', status: 'Running', attempts: 1, lease: LEASE, reason: null,
    summary: '', resultSize: null, worker: 'w', lastError: 'connect ECONNREFUSED /var/run/docker.sock', createdAt: new Date(0),
    startedAt: null, finishedAt: null, deadline: null, queued: true, containment: null, infraSince: null, owner: null,
    retryOf: null, cached: false, imageDigest: null, callback: null, ...fields,
  };
}

/** What a fake service call saw. */
export interface Seen { call: string; args: unknown[]; body?: string }

/**
 * A JobService stand-in: job 1 exists (Running), job 2 throws a driver error, any other id
 * is unknown. Calls are recorded with the streamed body read whole.
 */
export function fakeService(seen: Seen[] = []): JobService {
  const read = async (s: Readable): Promise<string> => {
    const chunks: Buffer[] = [];
    for await (const c of s) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };
  const get = async (id: string): Promise<Job> => {
    if (id === '2') throw new Error('connect ECONNREFUSED /var/run/mysqld/mysqld.sock');
    if (id !== '1') throw new NotFoundError('JOB_NOT_FOUND', `no job with id ${id}`);
    return fakeJob(id);
  };
  const view = { status: 'Running', summary: '', link: '' };
  const fake = {
    get,
    view: async (id: string) => (await get(id), view),
    engine: (name: string) => ({ name, sizelimit: 10 }),
    openLink: async (id: string) => {
      await get(id);
      throw new ConflictError('JOB_NOT_FINISHED', `job ${id} is Running; no result yet`);
    },
    openLog: async (id: string) => (await get(id), { stream: Readable.from([Buffer.from('log')]), size: 3 }),
    openInput: async (id: string) => (await get(id), { stream: Readable.from([Buffer.from('input')]), size: 5 }),
    start: async (id: string, worker: string) => {
      seen.push({ call: 'start', args: [id, worker] });
      await get(id);
      return { jobid: id, engine: 'copy', lease: LEASE, attempt: 1, size: 5, deadline: new Date(0).toISOString(), heartbeatMs: 1000 };
    },
    heartbeat: async (id: string, lease: string) => (seen.push({ call: 'heartbeat', args: [id, lease] }), { deadline: new Date(0).toISOString() }),
    succeed: async (id: string, lease: string, body: Readable, containment: unknown) => {
      seen.push({ call: 'succeed', args: [id, lease, containment], body: await read(body) });
      return { status: 'Success', summary: 'r', link: `/link/${id}` };
    },
    saveLog: async (id: string, lease: string, body: Readable) => void seen.push({ call: 'saveLog', args: [id, lease], body: await read(body) }),
    fail: async (...args: unknown[]) => (seen.push({ call: 'fail', args }), { status: 'Fail', summary: 'x', link: '/link/1' }),
    release: async (...args: unknown[]) => (seen.push({ call: 'release', args }), { status: 'Received', summary: '', link: '' }),
  };
  return fake as unknown as JobService;
}

/** The public app's file store is used only by uploads, which these tests do not make. */
export const noFiles = {} as FileStore;

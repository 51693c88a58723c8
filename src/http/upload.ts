import busboy from 'busboy';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { InvalidError } from '../errors.js';
import type { FileStore, Written } from '../storage/file-store.js';

/** An upload written to a temporary file in the store. */
export interface ReceivedUpload {
  written: Written;
  filename: string;
}

/**
 * Streams the multipart file field `field` of a request to a temporary file, hashing it on
 * the way; nothing is buffered whole. Over `limit` bytes, on a malformed body or when the
 * client goes away, the temporary file is removed and the promise rejects.
 */
export function receiveUpload(req: IncomingMessage, files: FileStore, field: string, limit: number): Promise<ReceivedUpload> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, defParamCharset: 'utf8',
        limits: { fileSize: limit + 1, files: 4, fields: 32, parts: 64, fieldSize: 64 * 1024 } });
    } catch {
      reject(new InvalidError('INVALID_UPLOAD', `expected a multipart/form-data body with a file field "${field}"`));
      return;
    }
    let pending: Promise<ReceivedUpload> | undefined;
    let current: Readable | undefined;
    let settled = false;
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      req.unpipe(parser);
      current?.destroy(err instanceof Error ? err : new Error(String(err)));
      (pending ?? Promise.resolve()).then(() => undefined, () => undefined).finally(() => reject(err));
    };
    parser.on('file', (name, stream, info) => {
      if (name !== field || pending) {
        stream.resume();
        if (name === field) fail(new InvalidError('INVALID_UPLOAD', `only one file may be sent in "${field}"`));
        return;
      }
      current = stream;
      pending = files.write(files.tmpPath(), stream, limit, 'upload')
        .then((written) => ({ written, filename: cleanName(info.filename) }));
      pending.catch(fail);
    });
    parser.on('error', () => fail(new InvalidError('INVALID_UPLOAD', 'the multipart body is malformed')));
    parser.on('close', () => {
      if (settled) return;
      if (!pending) {
        fail(new InvalidError('MISSING_UPLOAD', `the form has no file field "${field}"`));
        return;
      }
      pending.then((r) => {
        settled = true;
        resolve(r);
      }, fail);
    });
    req.on('close', () => {
      if (!req.complete) fail(new InvalidError('UPLOAD_ABORTED', 'the client closed the connection during the upload'));
    });
    req.pipe(parser);
  });
}

/** A file name fit to store and show: no control characters, at most 255 characters. */
export function cleanName(name: string | undefined): string {
  const cleaned = (name ?? '').replace(/[\u0000-\u001f\u007f]/g, '').replace(/^.*[\\/]/, '');
  return [...cleaned].slice(0, 255).join('') || 'upload';
}

import busboy from 'busboy';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { AppError, InvalidError, UploadTimeoutError } from '../errors.js';
import { WRITE_BUFFER_BYTES, type FileStore, type Written } from '../storage/file-store.js';

/** An upload written to a temporary file in the store. */
export interface ReceivedUpload {
  written: Written;
  filename: string;
}

/** What one upload may be. */
export interface UploadRules {
  /** The multipart file field that carries the sample. */
  field: string;
  /** Largest sample in bytes. */
  limit: number;
  /** The body is abandoned when no byte arrives for this long. */
  idleMs: number;
}

const malformed = (): InvalidError => new InvalidError('INVALID_UPLOAD', 'the multipart body is malformed');

/**
 * Streams the multipart file field of a request to a temporary file, hashing it on the way;
 * nothing is buffered whole. Every failure (over the limit, malformed or truncated body, a
 * second file in the field, a client that goes away or stalls) removes the temporary file
 * before the promise rejects, and every stream involved has an 'error' listener: no body
 * can raise an unhandled 'error' event.
 */
export function receiveUpload(req: IncomingMessage, files: FileStore, rules: UploadRules): Promise<ReceivedUpload> {
  return new Promise((resolve, reject) => new Reception(req, files, rules, resolve, reject).start());
}

/** One upload being received: the parser, the file being written and how it ends. */
class Reception {
  #parser: busboy.Busboy | undefined;
  #file: Readable | undefined;
  #pending: Promise<ReceivedUpload> | undefined;
  #settled = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly req: IncomingMessage,
    private readonly files: FileStore,
    private readonly rules: UploadRules,
    private readonly resolve: (r: ReceivedUpload) => void,
    private readonly reject: (err: unknown) => void,
  ) {}

  start(): void {
    const { req, rules } = this;
    req.on('error', () => this.#fail(new InvalidError('UPLOAD_ABORTED', 'the client closed the connection during the upload')));
    req.on('close', () => {
      if (!req.complete) this.#fail(new InvalidError('UPLOAD_ABORTED', 'the client closed the connection during the upload'));
    });
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, defParamCharset: 'utf8', highWaterMark: WRITE_BUFFER_BYTES, fileHwm: WRITE_BUFFER_BYTES,
        limits: { fileSize: rules.limit + 1, files: 4, fields: 32, parts: 64, fieldSize: 64 * 1024, headerPairs: 32 } });
    } catch {
      this.#fail(new InvalidError('INVALID_UPLOAD', `expected a multipart/form-data body with a file field "${rules.field}"`));
      return;
    }
    this.#parser = parser;
    parser.on('error', () => this.#fail(malformed()));
    parser.on('file', (name, stream, info) => this.#onFile(name, stream, info.filename));
    parser.on('finish', () => this.#onParsed());
    req.on('data', () => this.#armTimer());
    this.#armTimer();
    req.pipe(parser);
  }

  #onFile(name: string, stream: Readable, filename: string | undefined): void {
    // The write's pipeline reports this stream's failures; this listener only records that
    // the body (not the disk) was at fault, and keeps a late error from going unhandled.
    let bodyFailed = false;
    stream.on('error', () => {
      bodyFailed = true;
    });
    // busboy may still announce parts of the chunk it was parsing when the upload failed.
    if (this.#settled || name !== this.rules.field || this.#pending) {
      stream.resume();
      if (name === this.rules.field && this.#pending) this.#fail(new InvalidError('INVALID_UPLOAD', `only one file may be sent in "${this.rules.field}"`));
      return;
    }
    this.#file = stream;
    this.#pending = this.files.write(this.files.tmpPath(), stream, this.rules.limit, 'upload')
      .then((written) => ({ written, filename: cleanName(filename) }));
    this.#pending.catch((err: unknown) => this.#fail(err instanceof AppError || !bodyFailed ? err : malformed()));
  }

  #onParsed(): void {
    clearTimeout(this.#timer);
    if (this.#settled) return;
    const pending = this.#pending;
    if (!pending) {
      this.#fail(new InvalidError('MISSING_UPLOAD', `the form has no file field "${this.rules.field}"`));
      return;
    }
    pending.then((r) => {
      if (this.#settled) return;
      this.#settled = true;
      this.resolve(r);
    }, (err: unknown) => this.#fail(err));
  }

  /** Re-arms the body-progress timer; a pause we caused (disk backpressure) does not count. */
  #armTimer(): void {
    clearTimeout(this.#timer);
    if (this.#settled) return;
    this.#timer = setTimeout(() => {
      if (this.req.readableFlowing === false && !this.req.readableEnded) this.#armTimer();
      else this.#fail(new UploadTimeoutError(`no upload data for ${Math.round(this.rules.idleMs / 1000)} s`));
    }, this.rules.idleMs);
    this.#timer.unref();
  }

  /** Stops reading, drops what was written (at once, before answering) and rejects once. */
  #fail(err: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#timer);
    if (this.#parser) {
      this.req.unpipe(this.#parser);
      this.#parser.destroy();
    }
    this.#file?.destroy();
    const written = this.#pending ?? Promise.resolve(undefined);
    written
      .then((r) => (r ? this.files.discard(r.written.path) : undefined))
      .catch(() => undefined)
      .finally(() => this.reject(err));
  }
}

/** A file name fit to store and show: no control characters, at most 255 characters. */
export function cleanName(name: string | undefined): string {
  const cleaned = (name ?? '').replace(/[\u0000-\u001f\u007f]/g, '').replace(/^.*[\\/]/, '');
  return [...cleaned].slice(0, 255).join('') || 'upload';
}

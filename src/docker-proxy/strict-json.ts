/**
 * A JSON parser for request bodies a filter must agree on with Docker. Docker's Go decoder
 * matches struct keys case-insensitively (with Unicode folding: "ſ" is "s") and keeps the
 * last duplicate, while JavaScript keeps exact keys: `{"Privileged":false,"privileged":true}`
 * would read as harmless here and as privileged there. So a body is refused when any object
 * holds two keys equal under case folding, or a key with a non-ASCII character, at any depth.
 */
export class AmbiguousJson extends Error {}

const MAX_DEPTH = 64;
const WS = /[ \t\n\r]*/y;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;

/** Parses `text` as one JSON value; throws AmbiguousJson (or SyntaxError) when it is not plain. */
export function parseStrictJson(text: string): unknown {
  const p = new Parser(text);
  const value = p.value(0);
  p.skip();
  if (p.pos !== text.length) throw new SyntaxError(`unexpected data after the JSON value at offset ${p.pos}`);
  return value;
}

class Parser {
  pos = 0;
  constructor(private readonly s: string) {}

  skip(): void {
    WS.lastIndex = this.pos;
    WS.exec(this.s);
    this.pos = WS.lastIndex;
  }

  value(depth: number): unknown {
    if (depth > MAX_DEPTH) throw new AmbiguousJson(`JSON nested deeper than ${MAX_DEPTH} levels`);
    this.skip();
    const c = this.s[this.pos];
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c === '"') return this.string();
    for (const [word, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (this.s.startsWith(word, this.pos)) {
        this.pos += word.length;
        return v;
      }
    }
    return this.match(NUMBER, 'a value', Number);
  }

  string(): string {
    return this.match(STRING, 'a string', (t) => JSON.parse(t) as string);
  }

  match<T>(re: RegExp, what: string, convert: (token: string) => T): T {
    re.lastIndex = this.pos;
    const m = re.exec(this.s);
    if (!m) throw new SyntaxError(`expected ${what} at offset ${this.pos}`);
    this.pos = re.lastIndex;
    return convert(m[0]);
  }

  expect(c: string): void {
    this.skip();
    if (this.s[this.pos] !== c) throw new SyntaxError(`expected "${c}" at offset ${this.pos}`);
    this.pos++;
  }

  object(depth: number): Record<string, unknown> {
    this.pos++;
    const entries: [string, unknown][] = [];
    const folded = new Set<string>();
    this.skip();
    if (this.s[this.pos] === '}') return this.close(entries);
    for (;;) {
      this.skip();
      const key = this.string();
      checkKey(key, folded);
      this.expect(':');
      entries.push([key, this.value(depth + 1)]);
      this.skip();
      if (this.s[this.pos] === '}') return this.close(entries);
      this.expect(',');
    }
  }

  close(entries: [string, unknown][]): Record<string, unknown> {
    this.pos++;
    // fromEntries defines own properties: a "__proto__" key stays data, never a prototype.
    return Object.fromEntries(entries);
  }

  array(depth: number): unknown[] {
    this.pos++;
    const out: unknown[] = [];
    this.skip();
    if (this.s[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth + 1));
      this.skip();
      if (this.s[this.pos] === ']') {
        this.pos++;
        return out;
      }
      this.expect(',');
    }
  }
}

function checkKey(key: string, folded: Set<string>): void {
  // Docker's API has only ASCII keys; a non-ASCII one could fold onto one of them in Go.
  if (/[^\u0020-\u007e]/.test(key)) throw new AmbiguousJson(`the key ${JSON.stringify(key)} has a character outside printable ASCII`);
  const f = key.toLowerCase();
  if (folded.has(f)) throw new AmbiguousJson(`the key ${JSON.stringify(key)} appears twice (Docker compares keys without case)`);
  folded.add(f);
}

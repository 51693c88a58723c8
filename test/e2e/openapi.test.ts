import { expect } from 'chai';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type Router from '@koa/router';
import { apiRouters, openApiDocument } from '../../src/api/v1.js';
import { monitorRoutes } from '../../src/console/monitor-routes.js';
import { publicRouters, type AppDeps } from '../../src/http/app.js';
import { bearer, upload } from '../support/stack.js';
import { startApiFixture, type ApiFixture } from '../support/api-v1.js';
import { silentLogger } from '../../src/log/logger.js';

/**
 * OpenAPI conformance: the document at /api/v1/openapi.json against the routers the frontend
 * mounts (publicRouters + apiRouters: every API_MODULES entry), and every answer against the
 * document. A new route module is picked up by the walk; its operations then need CASES below.
 */

type Doc = { paths: Record<string, Record<string, { security?: unknown[]; parameters?: Param[]; requestBody?: any; responses: Record<string, any> }>> };
type Param = { name: string; in: 'path' | 'query'; required?: boolean; schema: unknown };
type TokenName = keyof ApiFixture['tokens'];

/** One request to an operation and the status it must answer. */
interface Case {
  what: string;
  token: TokenName | null;
  params?: Record<string, string>;
  query?: Record<string, string>;
  /** A multipart upload with this content in field `upload`. */
  upload?: string;
  status: number;
}

const ok = (what: string, token: TokenName | null, rest: Partial<Case> = {}): Case => ({ what, token, status: 200, ...rest });

/** alice's jobs that stay queued (menage is stopped once the fixture's jobs are done): the cancel cases take them. */
const queued: string[] = [];

/**
 * The requests each operation gets besides the generic ones (no token → 401, a worker
 * token → 403): at least one success per operation. Keyed `METHOD /openapi/path`.
 */
const CASES: Record<string, (f: ApiFixture) => Case[]> = {
  'GET /healthz': () => [ok('health', null)],
  'GET /readyz': () => [ok('ready', null)],
  'GET /metrics': () => [ok('read token', 'read'), ok('admin token', 'admin'), { what: 'submit token', token: 'alice', status: 403 }],
  'GET /api/v1/openapi.json': () => [ok('the document', null)],
  'POST /{engine}/upload': () => [ok('upload', 'alice', { params: { engine: 'md5' }, upload: 'x' }),
    { what: 'unknown engine', token: 'alice', params: { engine: 'nope' }, upload: 'x', status: 404 },
    { what: 'read token', token: 'read', params: { engine: 'md5' }, upload: 'x', status: 403 }],
  'PUT /{engine}/upload': () => [ok('upload', 'admin', { params: { engine: 'md5' }, upload: 'y' })],
  'GET /result/{id}': (f) => [ok('own', 'alice', { params: { id: f.alice[0]!.id } }),
    { what: 'other owner', token: 'alice', params: { id: f.bob.id }, status: 404 }],
  'GET /link/{id}': (f) => [ok('own', 'alice', { params: { id: f.alice[0]!.id } }),
    { what: 'bad id', token: 'read', params: { id: '0' }, status: 400 }],
  'GET /jobs/{id}': (f) => [ok('read', 'read', { params: { id: f.bob.id } })],
  'GET /jobs/{id}/log': (f) => [ok('admin', 'admin', { params: { id: f.bob.id } })],
  'GET /api/v1/engines': () => [ok('submit', 'alice'), ok('read', 'read')],
  'GET /api/v1/jobs': () => [ok('all', 'read'), ok('own, filtered', 'alice', { query: { status: 'Success,Fail', engine: 'md5', limit: '2' } }),
    { what: 'bad limit', token: 'read', query: { limit: '0' }, status: 400 }],
  'GET /api/v1/jobs/{id}': (f) => [ok('own', 'bob', { params: { id: f.bob.id } }),
    { what: 'other owner', token: 'bob', params: { id: f.alice[0]!.id }, status: 404 }],
  'GET /api/v1/jobs/{id}/log': (f) => [ok('own', 'alice', { params: { id: f.alice[1]!.id } })],
  'GET /api/v1/jobs/{id}/result': (f) => [ok('own', 'alice', { params: { id: f.alice[2]!.id } })],
  'POST /api/v1/jobs/{id}/cancel': (f) => [ok('own queued job', 'alice', { params: { id: queued[0]! } }),
    { what: 'finished', token: 'alice', params: { id: f.alice[0]!.id }, status: 409 },
    { what: 'other owner', token: 'bob', params: { id: f.alice[0]!.id }, status: 404 },
    { what: 'read token', token: 'read', params: { id: queued[1]! }, status: 403 }],
  'POST /api/v1/jobs/{id}/retry': (f) => [ok('own job', 'alice', { params: { id: f.alice[0]!.id }, status: 201 }),
    { what: 'bad callback', token: 'alice', params: { id: f.alice[0]!.id }, query: { callback: 'http://elsewhere/' }, status: 400 },
    { what: 'other owner', token: 'bob', params: { id: f.alice[0]!.id }, status: 404 }],
  'POST /api/v1/submissions': () => [ok('to md5', 'alice', { query: { engines: 'md5' }, upload: 'sub', status: 201 }),
    ok('cache bypassed', 'admin', { query: { engines: 'md5', force: '1' }, upload: 'sub', status: 201 }),
    { what: 'unknown engine', token: 'alice', query: { engines: 'md5,nope' }, upload: 'x', status: 404 },
    { what: 'repeated engine', token: 'alice', query: { engines: 'md5,md5' }, upload: 'x', status: 400 },
    { what: 'read token', token: 'read', query: { engines: 'md5' }, upload: 'x', status: 403 }],
  'GET /monitor/queues': () => [ok('all', 'read'), ok('own', 'alice')],
  'GET /monitor/jobs/paginate': (f) => [ok('all', 'read', { query: { eng: 'md5', st: 'SUCCESS,FAIL', 'min-id': f.alice[0]!.id } }),
    { what: 'bad min-id', token: 'read', query: { 'min-id': '-1' }, status: 400 }],
  'GET /monitor/jobs/{maxIdx}/{limit}/{page}': (f) => [ok('own', 'bob', { params: { maxIdx: f.bob.id, limit: '10', page: '1' }, query: { st: 'Success' } }),
    { what: 'limit 0', token: 'read', params: { maxIdx: '10', limit: '0', page: '1' }, status: 400 }],
  'GET /monitor/throughput': () => [ok('read', 'read', { query: { minutes: '10' } }),
    { what: 'minutes 0', token: 'read', query: { minutes: '0' }, status: 400 }],
  'GET /monitor/policy': () => [ok('read', 'read'), { what: 'submit token', token: 'alice', status: 403 }],
};

/** The routes the frontend's public app mounts, as `METHOD /openapi/{path}` (HEAD left out). */
function mountedRoutes(): string[] {
  const none = {} as never;
  const deps: AppDeps = { service: none, files: none, health: async () => undefined, log: silentLogger(), auth: none,
    routers: [...apiRouters({ service: none, auth: none, engines: () => [] }), monitorRoutes({ queries: none, auth: none, engines: () => [], policy: none })] };
  return publicRouters(deps).flatMap((r: Router) => r.stack)
    .flatMap((layer) => layer.methods.filter((m) => m !== 'HEAD').map((m) => `${m} ${String(layer.path).replace(/:([A-Za-z]+)/g, '{$1}')}`));
}

function documentedRoutes(doc: Doc): string[] {
  return Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
}

describe('e2e: the OpenAPI document matches the API', function () {
  this.timeout(120_000);
  let f: ApiFixture;
  let doc: Doc;
  const ajv = new Ajv2020({ strict: false, allErrors: true });

  before(async () => {
    f = await startApiFixture();
    // From here on jobs stay queued: the cancel cases need unfinished jobs.
    await f.stack.menage?.close(2000);
    for (const body of ['parked 1', 'parked 2']) queued.push((await upload(f.stack.url, 'md5', body, { token: f.tokens.alice })).json.jobid as string);
    const res = await fetch(`${f.stack.url}/api/v1/openapi.json`);
    expect(res.status).to.equal(200);
    doc = (await res.json()) as Doc;
    ajv.addSchema(doc as object, 'openapi');
  });
  after(async () => {
    await f?.close();
  });

  /** Validates `value` against the schema at a JSON pointer into the document. */
  const validate = (pointer: string, value: unknown): string[] => {
    const check = ajv.getSchema(`openapi#${pointer}`);
    if (!check) return [`no schema at ${pointer}`];
    return check(value) ? [] : (check.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
  };
  const esc = (s: string): string => s.replace(/~/g, '~0').replace(/\//g, '~1');

  it('is OpenAPI 3.1 with a bearer scheme and the error schema', () => {
    expect(doc).to.deep.include({ openapi: '3.1.0' });
    expect((doc as any).components.securitySchemes.bearer).to.deep.include({ type: 'http', scheme: 'bearer' });
    expect(validate('/components/schemas/Error', { error: { code: 'X_Y', message: 'm' } })).to.deep.equal([]);
    expect(validate('/components/schemas/Error', { error: { code: 'X' } })).to.not.deep.equal([]);
  });

  it('documents every mounted route, and no route that is not mounted', () => {
    const mounted = mountedRoutes();
    const documented = documentedRoutes(doc);
    expect(mounted.length).to.be.greaterThan(10);
    expect(mounted.filter((r) => !documented.includes(r)), 'undocumented routes').to.deep.equal([]);
    expect(documented.filter((r) => !mounted.includes(r)), 'documented but not mounted').to.deep.equal([]);
    expect(openApiDocument()).to.deep.equal(doc); // what is served is what the modules build
  });

  it('documents 401 and 403 on every operation that needs a token, and the error schema on every error', () => {
    const problems: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const secured = (op.security ?? [{}]).length > 0;
        if (secured && !(op.responses['401'] && op.responses['403'])) problems.push(`${method} ${path}: no 401/403`);
        for (const [status, r] of Object.entries(op.responses)) {
          // /readyz answers 503 with its checks, not an error: a probe reads which one failed.
          if (Number(status) >= 400 && !(path === '/readyz' && status === '503') && r.content?.['application/json']?.schema?.$ref !== '#/components/schemas/Error') problems.push(`${method} ${path} ${status}`);
        }
        if ((op.parameters ?? []).some((p) => p.in === 'path' && !path.includes(`{${p.name}}`))) problems.push(`${method} ${path}: stray path parameter`);
      }
    }
    expect(problems).to.deep.equal([]);
  });

  it('every operation has a success case in this test', () => {
    const missing = documentedRoutes(doc).filter((r) => !(CASES[r]?.(f) ?? []).some((c) => c.status >= 200 && c.status < 300));
    expect(missing, 'add cases to CASES in test/e2e/openapi.test.ts').to.deep.equal([]);
  });

  /** Sends one case; checks the request against the parameters and the answer against the document. */
  async function run(method: string, path: string, c: Case): Promise<string[]> {
    const op = doc.paths[path]![method]!;
    const base = `/paths/${esc(path)}/${method}`;
    const problems: string[] = [];
    (op.parameters ?? []).forEach((p, i) => {
      const value = p.in === 'path' ? c.params?.[p.name] : c.query?.[p.name];
      if (value === undefined) {
        if (p.required) problems.push(`request: ${p.name} is required`);
        return;
      }
      // A case meant to be refused may send what the document does not allow.
      if (c.status < 400) problems.push(...validate(`${base}/parameters/${i}/schema`, value).map((e) => `request ${p.name}: ${e}`));
    });
    for (const name of Object.keys(c.query ?? {})) {
      if (!(op.parameters ?? []).some((p) => p.in === 'query' && p.name === name)) problems.push(`request: undocumented query parameter ${name}`);
    }
    const target = path.replace(/\{([A-Za-z]+)\}/g, (_, n: string) => encodeURIComponent(c.params?.[n] ?? ''))
      + (c.query ? `?${new URLSearchParams(c.query)}` : '');
    const init: RequestInit = { method: method.toUpperCase(), headers: bearer(c.token ? f.tokens[c.token] : undefined) };
    if (c.upload !== undefined) {
      if (!op.requestBody?.content?.['multipart/form-data']?.schema?.required?.includes('upload')) problems.push('request: upload body not documented');
      const form = new FormData();
      form.append('upload', new Blob([c.upload]), 'case.bin');
      init.body = form;
    }
    const res = await fetch(`${f.stack.url}${target}`, init);
    const text = await res.text();
    if (res.status !== c.status) problems.push(`status ${res.status}, expected ${c.status}: ${text.slice(0, 200)}`);
    const documented = op.responses[String(res.status)];
    if (!documented) return [...problems, `status ${res.status} is not documented`];
    const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
    if (!documented.content?.[type]) return [...problems, `content type ${type} is not documented for ${res.status}`];
    const body = type === 'application/json' ? JSON.parse(text) : text;
    problems.push(...validate(`${base}/responses/${res.status}/content/${esc(type)}/schema`, body).map((e) => `response${e}`));
    return problems;
  }

  it('answers every case with a documented status and a body that fits the document', async () => {
    const problems: string[] = [];
    let calls = 0;
    for (const route of documentedRoutes(doc)) {
      const [method, path] = [route.split(' ')[0]!.toLowerCase(), route.split(' ')[1]!];
      const op = doc.paths[path]![method]!;
      const cases = [...(CASES[route]?.(f) ?? [])];
      const sample = cases.find((c) => c.status < 300);
      if ((op.security ?? [{}]).length > 0 && sample) {
        cases.push({ ...sample, what: 'no token', token: null, status: 401 }, { ...sample, what: 'worker token', token: 'worker', status: 403 });
      }
      for (const c of cases) {
        calls++;
        for (const p of await run(method, path, c)) problems.push(`${route} (${c.what}): ${p}`);
      }
    }
    expect(calls).to.be.greaterThan(30);
    expect(problems).to.deep.equal([]);
  });

  it('a method a documented path does not take answers 405 with exactly the documented methods in Allow', async () => {
    const problems: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      const target = path.replace('{engine}', 'md5').replace('{id}', f.alice[0]!.id).replace(/\{[A-Za-z]+\}/g, '1');
      const method = ['DELETE', 'PATCH', 'PUT', 'POST'].find((m) => !(m.toLowerCase() in ops)) ?? 'DELETE';
      const res = await fetch(`${f.stack.url}${target}`, { method, headers: bearer(f.tokens.admin) });
      const body = await res.json();
      const want = Object.keys(ops).map((m) => m.toUpperCase()).flatMap((m) => (m === 'GET' ? ['HEAD', 'GET'] : [m])).sort();
      const allow = (res.headers.get('allow') ?? '').split(/,\s*/).sort();
      if (res.status !== 405 || JSON.stringify(allow) !== JSON.stringify(want)) problems.push(`${method} ${path}: ${res.status} Allow ${allow}`);
      problems.push(...validate('/components/schemas/Error', body).map((e) => `${path}: ${e}`));
    }
    expect(problems).to.deep.equal([]);
  });
});

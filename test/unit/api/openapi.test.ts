import { expect } from 'chai';
import { openApiDocument, API_MODULES } from '../../../src/api/v1.js';
import { buildOpenApi, secured, type ApiFragment } from '../../../src/api/openapi.js';

describe('api/openapi: the document is built from fragments', () => {
  const op = secured({ operationId: 'x', summary: 'x', responses: {} });

  it('refuses a route documented twice, or one schema name with two meanings', () => {
    const a: ApiFragment = { paths: { '/x': { get: op } }, schemas: { S: { type: 'string' } } };
    expect(() => buildOpenApi([a, { paths: { '/x': { get: op } }, schemas: {} }], '1')).to.throw(/GET \/x is documented twice/);
    expect(() => buildOpenApi([a, { paths: {}, schemas: { S: { type: 'integer' } } }], '1')).to.throw(/schema S/);
    expect(() => buildOpenApi([a, { paths: { '/x': { post: op } }, schemas: { S: { type: 'string' } } }], '1')).to.not.throw();
  });

  it('a secured operation documents 401, 403, 500 and 503 besides its own answers', () => {
    expect(Object.keys(op.responses).sort()).to.deep.equal(['401', '403', '500', '503']);
    expect(op.security).to.deep.equal([{ bearer: [] }]);
  });

  it('holds the original routes, the document itself and every module', () => {
    const paths = Object.keys((openApiDocument() as { paths: object }).paths);
    expect(paths).to.include.members(['/{engine}/upload', '/healthz', '/api/v1/openapi.json', '/api/v1/jobs']);
    for (const m of API_MODULES) expect(paths).to.include.members(Object.keys(m.fragment.paths));
  });
});

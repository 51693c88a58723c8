import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const read = (path: string): string => readFileSync(fileURLToPath(new URL(`../../../../${path}`, import.meta.url)), 'utf8');

/** The appliance's files agree on where the internal API is, and never publish it. */
describe('config: the appliance keeps the internal API off the public port', () => {
  it('the frontend listens for the internal API on 8101; menage and the enforcer go there', () => {
    const menagerie = JSON.parse(read('appliance/config/menagerie.json')) as { listen: { port: number }; internalListen: { port: number }; menage: { frontendUrl: string } };
    expect([menagerie.listen.port, menagerie.internalListen.port, menagerie.menage.frontendUrl]).to.deep.equal([8100, 8101, 'http://frontend:8101']);
    expect(read('appliance/config/enforcer.json')).to.include('http://frontend:8101').and.not.include(':8100');
    expect(read('enforcer/config.json')).to.include('http://127.0.0.1:8101').and.not.include(':8100');
  });

  it('compose publishes 8100 only; the health checks reach the internal API with the token', () => {
    const ports = [...read('appliance/compose/docker-compose.yml').matchAll(/^\s*ports: \[(.*)\]$/gm)].map((m) => m[1]);
    expect(ports.join(' ')).to.not.include('8101');
    const health = read('appliance/runtime/healthcheck.mjs');
    expect(health).to.match(/port: 8101, path: '\/internal\/healthz', headers: internalAuth/);
    expect(health).to.include('MENAGERIE_INTERNAL_TOKEN');
  });
});

import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const read = (path: string): string => readFileSync(fileURLToPath(new URL(`../../../../${path}`, import.meta.url)), 'utf8');

/** The appliance's files agree on where the internal API is, and never publish it. */
describe('config: the appliance keeps the internal API off the public port', () => {
  it('the rendered config: the frontend listens for the internal API on 8101; menage and the enforcer go there', () => {
    // The playbook renders menagerie.json and enforcer.json from these (ansible/roles/menagerie).
    const vars = read('ansible/roles/menagerie/vars/main.yml');
    expect(vars).to.include("'listen': {'host': '0.0.0.0', 'port': 8100}");
    expect(vars).to.include("'internalListen': {'host': '0.0.0.0', 'port': 8101}");
    expect(vars.match(/'frontendUrl': menagerie_frontend_internal_url/g)).to.have.length(1);
    expect(vars).to.match(/'frontend': \{\s*'url': menagerie_frontend_internal_url/);
    // HTTPS when the inventory has worker nodes (docs/scale-out.md; test/e2e/playbook-scale-out renders both).
    expect(read('ansible/roles/menagerie/defaults/main.yml')).to.match(/^menagerie_frontend_internal_url: "\{\{ 'https' if menagerie_scale_out else 'http' \}\}:\/\/frontend:8101"$/m);
    expect(read('enforcer/config.json')).to.include('http://127.0.0.1:8101').and.not.include(':8100');
  });

  it('compose publishes 8100 only; the health checks reach the internal API with the token', () => {
    const ports = [...read('appliance/compose/docker-compose.yml').matchAll(/^\s*ports: \[(.*)\]$/gm)].map((m) => m[1]);
    expect(ports.join(' ')).to.not.include('8101');
    expect(ports.join(' '), 'menage\'s metrics listener stays on the compose network').to.not.include('8102');
    expect(read('ansible/roles/menagerie/vars/main.yml')).to.include("'listen': {'host': '0.0.0.0', 'port': 8102}");
    const health = read('appliance/runtime/healthcheck.mjs');
    expect(health).to.match(/port: 8101, path: '\/internal\/healthz', headers: internalAuth/);
    expect(health).to.include('MENAGERIE_INTERNAL_TOKEN');
  });
});

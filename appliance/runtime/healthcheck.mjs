// Health check run inside the runtime image (it has no shell): `node healthcheck.mjs ROLE`.
// Each process's /readyz checks its dependencies itself, each within 2 s (docs/observability.md).
// frontend: its /readyz (database, broker, store) and its internal listener. menage: its /readyz
// on its operations listener (the broker, the Docker API through docker-proxy, the frontend's
// internal API with its token). docker-proxy: Docker's /_ping through itself (its listener and
// the daemon). enforcer: its API's /readyz (the Docker socket).
import { request } from 'node:http';
import { request as tlsRequest } from 'node:https';

// Scale-out (docs/scale-out.md): the internal API serves HTTPS, its certificate from the
// appliance CA, which NODE_EXTRA_CA_CERTS makes trusted; a worker node's menage calls it with
// its own worker token, on the frontend host's address.
const internalTls = process.env.MENAGERIE_INTERNAL_TLS === '1';

/** GET over TCP or a unix socket (`tls`: HTTPS); resolves to the status code. */
function get(options, tls = false) {
  return new Promise((resolve, reject) => {
    const req = (tls ? tlsRequest : request)({ method: 'GET', timeout: 4000, ...options }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const internalAuth = { authorization: `Bearer ${process.env.MENAGERIE_WORKER_TOKEN || process.env.MENAGERIE_INTERNAL_TOKEN || ''}` };

const checks = {
  frontend: [
    () => get({ host: '127.0.0.1', port: 8100, path: '/readyz' }),
    // Its own listener by loopback: the certificate names the addresses workers use, not 127.0.0.1.
    () => get({ host: '127.0.0.1', port: 8101, path: '/internal/healthz', headers: internalAuth, rejectUnauthorized: false }, internalTls),
  ],
  // menage.listen: 0.0.0.0:8102 on the frontend host, 127.0.0.1:8102 on a worker node.
  menage: [() => get({ host: '127.0.0.1', port: 8102, path: '/readyz' })],
  'docker-proxy': [() => get({ host: '127.0.0.1', port: 2375, path: '/_ping' })],
  enforcer: [
    // Its API's /readyz pings the Docker socket (its directory is mounted at /host-run).
    () => get({ host: '127.0.0.1', port: 8888, path: '/readyz' }),
  ],
};

const role = process.argv[2] ?? '';
try {
  if (!checks[role]) throw new Error(`unknown role "${role}"`);
  for (const check of checks[role]) {
    const status = await check();
    if (status !== 200) throw new Error(`HTTP ${status}`);
  }
  process.exit(0);
} catch (err) {
  console.error(`unhealthy: ${err.message}`);
  process.exit(1);
}

import type { DockerOptions } from 'dockerode';

/**
 * dockerode options for `menage.dockerSocket`: a unix socket path (the daemon itself), or a
 * `tcp://` / `http://` URL (the Docker API proxy, `menagerie docker-proxy`).
 */
export function dockerOptions(endpoint: string): DockerOptions {
  if (!/^(tcp|http):\/\//.test(endpoint)) return { socketPath: endpoint };
  const url = new URL(endpoint.replace(/^tcp:/, 'http:'));
  return { protocol: 'http', host: url.hostname, port: Number(url.port || 2375) };
}

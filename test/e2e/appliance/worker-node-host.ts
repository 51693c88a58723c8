import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ok, root, run } from '../../support/appliance.js';

// A second "host" on this machine for test/e2e/appliance/worker-node.ts: a container with its own
// network namespace on a Docker network of its own, its own root filesystem (Debian 12), its own
// dockerd (installed by the playbook) on a volume, reached by Ansible over ssh like a real node.
// Not --privileged: this VM withholds CAP_SYS_RESOURCE and a privileged container asks for
// every capability (runc: "unable to apply caps"), so it gets all capabilities but that one,
// no seccomp or AppArmor filter, the unmasked /proc and every device. --userns=host, since the
// host daemon remaps users (a remapped container could not run a Docker engine).

/** A worker node made by this file. */
export interface Node {
  name: string;
  net: string;
  volume: string;
  /** The node's root filesystem, its ssh key, its inventory. */
  dir: string;
  ip: string;
  /** The host's address on the node's network: the frontend host's cluster address. */
  gateway: string;
  bridge: string;
  key: string;
}

const CACHE = process.env.MENAGERIE_CACHE ?? '/var/cache/menagerie/engines';
const TOOLS = ['docker', 'ssh', 'ssh-keygen', 'iptables', 'ansible-playbook', 'chroot', 'tar', 'mysql', 'rabbitmqctl'];
const SSH_OPTS = '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes -o ConnectTimeout=5';

/** Fails naming every tool this test needs that the machine lacks. */
export async function requireTools(): Promise<void> {
  const missing: string[] = [];
  for (const t of TOOLS) if ((await run('sh', ['-c', `command -v ${t}`])).code !== 0) missing.push(t);
  expect(missing, `the worker-node test needs ${missing.join(', ')} on this machine (test/run installs them)`).to.deep.equal([]);
}

/** A fresh node name per run (also its container, network, volume, token and broker user). */
export const nodeName = (): string => `wnode-${randomBytes(3).toString('hex')}`;

/**
 * The node's root filesystem in `dir`: the engines' Debian base (engines/debian/make-base, from
 * its cached debootstrap tarball) plus what Ansible needs (openssh-server, python3), installed
 * from Debian's mirror in a chroot. The playbook installs everything else itself.
 */
async function makeRootfs(dir: string, pubkey: string): Promise<string> {
  const image = (await ok(join(root, 'engines/debian/make-base'), [], { timeoutMs: 900_000 })).stdout.trim();
  const tarball = join(CACHE, `debian-base-${image.split(':')[1]}.tar`);
  const rootfs = join(dir, 'rootfs');
  await ok('mkdir', ['-p', rootfs]);
  await ok('tar', ['--numeric-owner', '-C', rootfs, '-xf', tarball], { timeoutMs: 300_000 });
  // The tarball's top is debootstrap's mktemp folder (0700): the node's remapped containers
  // (uid 100000) could not even reach /proc ("open /proc/self/mountinfo: permission denied").
  await ok('chmod', ['0755', rootfs]);
  const script = `set -e
    cp /etc/resolv.conf "$R/etc/resolv.conf"
    printf '#!/bin/sh\\nexit 101\\n' > "$R/usr/sbin/policy-rc.d"; chmod 0755 "$R/usr/sbin/policy-rc.d"
    mount -t proc proc "$R/proc"
    trap 'umount "$R/proc"' EXIT
    chroot "$R" env DEBIAN_FRONTEND=noninteractive sh -c 'apt-get update -q && apt-get install -y -q --no-install-recommends openssh-server python3 ca-certificates' >"$R/../apt.log" 2>&1 || { tail -20 "$R/../apt.log"; exit 1; }
    rm -f "$R"/etc/ssh/ssh_host_*
    # The site's trust, as on every host of this network: its CAs (an HTTPS proxy's, here) in the
    # system store for curl and apt, which Node and npm (the runtime build) are told to use too.
    if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
      cp /usr/local/share/ca-certificates/*.crt "$R/usr/local/share/ca-certificates/"
      chroot "$R" update-ca-certificates >/dev/null
    fi
    echo "NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt" >> "$R/etc/environment"
    echo "cafile=/etc/ssl/certs/ca-certificates.crt" > "$R/root/.npmrc"
    install -d -m 0700 "$R/root/.ssh" && install -m 0600 "$PUB" "$R/root/.ssh/authorized_keys"`;
  await ok('bash', ['-c', script], { env: { R: rootfs, PUB: pubkey }, timeoutMs: 600_000 });
  return rootfs;
}

/** Starts the node: its network, its Docker volume, its container; resolves once sshd answers. */
export async function startNode(name: string, snapshot: string): Promise<Node> {
  const dir = await mkdtemp(join('/var/tmp', `${name}-`));
  const key = join(dir, 'id');
  await ok('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', key]);
  const rootfs = await makeRootfs(dir, `${key}.pub`);
  const label = ['--label', 'org.menagerie.test=worker-node'];
  await ok('docker', ['network', 'create', ...label, name]);
  await ok('docker', ['volume', 'create', ...label, name]);
  await ok('docker', ['run', '-d', '--name', name, '--hostname', name, ...label, '--init', '--userns=host',
    '--cap-add', 'ALL', '--cap-drop', 'SYS_RESOURCE', '--device-cgroup-rule', 'a *:* rwm',
    ...['seccomp=unconfined', 'apparmor=unconfined', 'systempaths=unconfined', 'no-new-privileges=false'].flatMap((o) => ['--security-opt', o]),
    '--network', name, '-v', `${rootfs}:/node`, '-v', `${name}:/node/var/lib/docker`,
    // The source tree, where the inventory says it is (as Vagrant shares the checkout).
    '-v', `${snapshot}:/node${snapshot}:ro`,
    '-v', `${join(root, 'test/e2e/appliance/worker-node/boot.sh')}:/boot.sh:ro`,
    '--entrypoint', '/boot.sh', 'menagerie/busybox:latest']);
  const net = JSON.parse((await ok('docker', ['network', 'inspect', name])).stdout)[0];
  const ip = JSON.parse((await ok('docker', ['inspect', name])).stdout)[0].NetworkSettings.Networks[name].IPAddress as string;
  const node: Node = { name, net: name, volume: name, dir, ip, key, gateway: net.IPAM.Config[0].Gateway, bridge: `br-${String(net.Id).slice(0, 12)}` };
  const until = Date.now() + 60_000;
  while ((await onNode(node, 'true')).code !== 0) {
    if (Date.now() > until) throw new Error(`the node's sshd does not answer:\n${(await run('docker', ['logs', name])).stderr}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  return node;
}

/** Runs a shell command on the node over ssh, as Ansible does. */
export const onNode = (node: Node, command: string, timeoutMs = 120_000) =>
  run('ssh', [...SSH_OPTS.split(' '), '-i', node.key, `root@${node.ip}`, command], { timeoutMs });

/**
 * What a router between two hosts would do: lets the node reach the ports the frontend host
 * publishes (the internal API on 8101), and their answers back. Docker isolates its bridges
 * from each other, and the node's network is a bridge; from another machine no rule is needed.
 */
export async function routeToFrontend(node: Node, bridge: string, add: boolean): Promise<void> {
  const rules = [
    ['-i', node.bridge, '-o', bridge, '-m', 'conntrack', '--ctstate', 'DNAT'],
    ['-i', bridge, '-o', node.bridge, '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED'],
  ];
  for (const r of rules) {
    const spec = [...r, '-m', 'comment', '--comment', `menagerie-test ${node.name}`, '-j', 'ACCEPT'];
    if (add) await ok('iptables', ['-I', 'DOCKER-USER', ...spec]);
    else while ((await run('iptables', ['-D', 'DOCKER-USER', ...spec])).code === 0);
  }
}

/** The inventory, in the shape of ansible/inventory/scale-out: this machine as the frontend, the node as a worker. */
export async function writeInventory(node: Node, snapshot: string, nodeEngines: string[], frontendEngines: string[]): Promise<string> {
  const file = join(node.dir, 'hosts.yml');
  const inventory = {
    all: {
      vars: { menagerie_src_dir: snapshot, menagerie_registry: `${node.gateway}:5443` },
      children: {
        frontend: { hosts: { localhost: { ansible_connection: 'local', menagerie_cluster_address: node.gateway, menagerie_menage_engines: frontendEngines } } },
        workers: { children: { workers_test: { vars: { menagerie_menage_engines: nodeEngines }, hosts: { [node.name]: {
          ansible_host: node.ip, ansible_user: 'root', ansible_ssh_private_key_file: node.key, ansible_ssh_common_args: SSH_OPTS,
        } } } } },
      },
    },
  };
  await writeFile(file, `# Written by test/e2e/appliance/worker-node.ts (JSON is YAML).\n${JSON.stringify(inventory, null, 2)}\n`);
  return file;
}

/** Removes the node's container, volume, network, route and files (each step whatever the others did). */
export async function removeNode(node: Node, bridge: string): Promise<string[]> {
  const left: string[] = [];
  await routeToFrontend(node, bridge, false);
  if ((await run('docker', ['rm', '-f', '-v', node.name], { timeoutMs: 180_000 })).code !== 0) left.push(`container ${node.name}`);
  if ((await run('docker', ['volume', 'rm', node.volume])).code !== 0) left.push(`volume ${node.volume}`);
  if ((await run('docker', ['network', 'rm', node.net])).code !== 0) left.push(`network ${node.net}`);
  await rm(node.dir, { recursive: true, force: true });
  return left;
}

/** The last lines of a compose service's log on the node. */
export async function nodeLog(node: Node, service: string): Promise<string> {
  const r = await onNode(node, `cd /opt/menagerie/compose && docker-compose logs --no-color --tail 200 ${service}`);
  return r.stdout + r.stderr;
}

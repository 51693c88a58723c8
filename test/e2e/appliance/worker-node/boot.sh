#!/bin/sh
# The entry point of the worker-node container (test/e2e/appliance/worker-node-host.ts). The
# node's root filesystem is a host directory (Debian 12 from the engines' cached debootstrap
# tarball, plus openssh-server and python3) bound at /node: an image would not do, because a
# daemon with userns-remap stores image files shifted (root = 100000) and a --userns=host
# container sees them so. It becomes the container's root (pivot_root, so that the node's own
# dockerd and runc work as on a host), with writable cgroups and /sys; then sshd, for Ansible.
set -eu
chown 0:0 /node/var/lib/docker
mount -o remount,rw /sys
for c in /sys/fs/cgroup/*; do
  [ -L "$c" ] || mount -o remount,rw,bind "$c" "$c" 2>/dev/null || true
done
# A procfs of its own (a bind of the container's would refuse /proc/self to the node's
# user-namespaced containers), and the container's /sys and /dev.
mount -t proc proc /node/proc
for d in sys dev; do mount --rbind "/$d" "/node/$d"; done
mount -t tmpfs -o mode=0755 tmpfs /node/run
cp /etc/resolv.conf /etc/hosts /etc/hostname /node/etc/
cd /node
mkdir -p .oldroot
pivot_root . .oldroot
umount -l /.oldroot
rmdir /.oldroot
exec /bin/sh -c 'mkdir -p /run/sshd && ssh-keygen -A >/dev/null && exec /usr/sbin/sshd -D -e -o PasswordAuthentication=no'

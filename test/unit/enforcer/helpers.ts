import { fileURLToPath } from 'node:url';
import type { ContainerModel } from '../../../src/enforcer/container-model.js';
import { modelFromCreate } from '../../../src/enforcer/container-model.js';

/** The repository root (tests run from dist/test/unit/enforcer). */
export const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** A compliant engine-like create body, with overrides merged into HostConfig or the top. */
export function compliantBody(over: Record<string, unknown> = {}, hostOver: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    Image: 'menagerie/busybox:latest',
    Labels: { 'org.menagerie.managed': 'true' },
    NetworkDisabled: true,
    ...over,
    HostConfig: {
      NetworkMode: 'none',
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      PidsLimit: 32,
      Memory: 64 * 1024 * 1024,
      ...hostOver,
    },
  };
}

/** A container model from a create body. */
export function model(over: Record<string, unknown> = {}, hostOver: Record<string, unknown> = {}): ContainerModel {
  return modelFromCreate(compliantBody(over, hostOver));
}

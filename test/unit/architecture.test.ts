import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = join(fileURLToPath(new URL('../../../', import.meta.url)), 'src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Which concept folders of src/ import from which others (files at the top level excluded). */
function folderImports(): Map<string, Set<string>> {
  const edges = new Map<string, Set<string>>();
  for (const file of sources(SRC)) {
    const from = relative(SRC, dirname(file));
    if (from === '') continue; // composition roots, cli.ts, errors.ts
    for (const m of readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'/g)) {
      const to = relative(SRC, dirname(normalize(join(dirname(file), m[1] as string))));
      if (to === '' || to === from) continue;
      if (!edges.has(from)) edges.set(from, new Set());
      edges.get(from)?.add(to);
    }
  }
  return edges;
}

/** Every folder cycle, each as a path that ends where it starts. */
function cycles(edges: Map<string, Set<string>>): string[] {
  const found = new Set<string>();
  const walk = (node: string, path: string[]): void => {
    for (const next of edges.get(node) ?? []) {
      const at = path.indexOf(next);
      if (at >= 0) found.add([...path.slice(at), next].join(' -> '));
      else walk(next, [...path, next]);
    }
  };
  for (const node of edges.keys()) walk(node, [node]);
  return [...found];
}

describe('architecture: the tree shows the layering', () => {
  it('no two concept folders of src/ import each other, directly or round about', () => {
    expect(cycles(folderImports())).to.deep.equal([]);
  });

  it('the check finds a cycle when there is one', () => {
    expect(cycles(new Map([['a', new Set(['b'])], ['b', new Set(['a'])]]))).to.not.deep.equal([]);
  });

  it('only the composition roots and the driver fences import the drivers', () => {
    const fences: Record<string, RegExp> = {
      mysql2: /^(jobs|auth)\//, amqplib: /^(queue)\//,
      // HTTP glue: the frontend's apps (http/), API v1 (api/), the console and the enforcer's API.
      koa: /^(http|api|console|enforcer)\/|^enforcer\.ts$/, '@koa/router': /^(http|api|console|enforcer)\/|^enforcer\.ts$/, dockerode: /^(menage|enforcer|cleanup|docker-proxy)\/|^(menage|enforcer|docker-proxy)\.ts$/,
    };
    const offenders: string[] = [];
    for (const file of sources(SRC)) {
      const rel = relative(SRC, file);
      for (const [driver, allowed] of Object.entries(fences)) {
        if (new RegExp(`from '${driver}(/[^']*)?'`).test(readFileSync(file, 'utf8')) && !allowed.test(rel)) offenders.push(`${rel} imports ${driver}`);
      }
    }
    expect(offenders).to.deep.equal([]);
  });
});

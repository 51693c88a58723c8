import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CONSOLE_DIR, loadAssets } from '../../../src/console/static.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

describe('console: the static files', () => {
  const assets = loadAssets(CONSOLE_DIR);
  const scripts = [...assets].filter(([path]) => path.endsWith('.js'));

  it('are found from the compiled module (repository and runtime image alike)', () => {
    expect(CONSOLE_DIR).to.equal(`${ROOT}console/`);
    expect([...assets.keys()]).to.include.members(['index.html', 'app.js', 'style.css', 'api.js', 'dom.js', 'viewers.js', 'pages/job.js']);
  });

  it('every module a script imports and every file index.html names is served', () => {
    const missing: string[] = [];
    for (const [path, asset] of scripts) {
      const dir = path.includes('/') ? path.slice(0, path.lastIndexOf('/') + 1) : '';
      for (const m of asset.body.toString('utf8').matchAll(/^import [^'"]*'([^']+)';$/gm)) {
        const target = new URL(m[1] as string, `http://x/${dir}`).pathname.slice(1);
        if (!assets.has(target)) missing.push(`${path} → ${m[1]}`);
      }
    }
    const html = assets.get('index.html')?.body.toString('utf8') ?? '';
    for (const m of html.matchAll(/(?:src|href)="([^"#][^"]*)"/g)) if (!assets.has(m[1] as string)) missing.push(`index.html → ${m[1]}`);
    expect(missing).to.deep.equal([]);
  });

  it('load nothing from elsewhere and never parse data as markup', () => {
    const problems: string[] = [];
    for (const [path, asset] of assets) {
      const text = asset.body.toString('utf8');
      if (/(?:src|href|url)\s*[=(]\s*['"]?(?:https?:)?\/\//i.test(text)) problems.push(`${path}: refers to another origin`);
      if (path.endsWith('.js') && /\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function\(|\.setAttribute\(\s*['"]on/.test(text)) {
        problems.push(`${path}: builds markup or code from strings`);
      }
      if (path.endsWith('.html') && /<script(?![^>]*\bsrc=)|\sstyle=|\son[a-z]+=/i.test(text)) problems.push(`${path}: inline script, style or handler`);
    }
    expect(problems).to.deep.equal([]);
  });

  it('the runtime image build copies them to /app/console', () => {
    const build = readFileSync(`${ROOT}appliance/runtime/build`, 'utf8');
    expect(build).to.match(/^paths=\([^)]*\bconsole\b/m);
    expect(build).to.contain('cp -r "$src/console" "$app/console"');
  });
});

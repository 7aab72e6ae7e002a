/**
 * The dev IdP loads oidc-provider without its "Unsupported runtime" warning, which it prints on Node 20 (that
 * hoop supports) and which told every `npm start` user to upgrade Node. Run in a child process: the warning is
 * printed once per process, when the module first loads. Needs the build (dist/), which `npm test` makes first.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const run = async (code: string): Promise<string> => (await promisify(execFile)(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT })).stderr;

describe('loading oidc-provider', () => {
  it('drops only the runtime warning', async () => {
    const bare = await run(`await import('oidc-provider')`);
    const loaded = await run(`const m = await import('./dist/gateway/dev-idp/load-provider.js'); const p = await m.loadOidcProvider(); console.warn('after:', typeof p.default);`);
    // On Node 22 and later oidc-provider prints nothing to drop; the rest of the test still holds.
    if (Number(process.versions.node.split('.')[0]) < 22) expect(bare).toContain('Unsupported runtime');
    expect(loaded).not.toContain('Unsupported runtime');
    expect(loaded).toContain('after: function'); // console.warn works again, and the module loaded
  });
});

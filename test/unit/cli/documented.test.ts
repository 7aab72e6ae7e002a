/**
 * Every CLI command and option is in docs/cli.md: each command has a `### \`hoop …\`` heading, and every long
 * option its `--help` lists appears in that heading or in the text under it. A flag added without a word in the
 * reference fails here (a new user's walk through the docs found three that had drifted).
 */
import { readFileSync } from 'node:fs';
import { Command, type Option } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerAudit } from '../../../cli/commands/audit.js';
import { registerConnect } from '../../../cli/commands/connect.js';
import { registerExec } from '../../../cli/commands/exec.js';
import { registerGrants } from '../../../cli/commands/grants.js';
import { registerLogin } from '../../../cli/commands/login.js';
import { registerReviews } from '../../../cli/commands/reviews.js';
import { registerSessions } from '../../../cli/commands/sessions.js';
import type { CliContext } from '../../../cli/services/context.js';

const doc = readFileSync(new URL('../../../docs/cli.md', import.meta.url), 'utf8');

/** The text of each `### \`hoop …\`` section, by the heading's first line. */
function sections(): Array<{ heading: string; text: string }> {
  const parts = doc.split(/^### /m).slice(1);
  return parts.map((p) => ({ heading: p.slice(0, p.indexOf('\n')), text: p.split(/^## /m)[0]! }));
}

function commands(): Array<{ path: string; options: string[] }> {
  const program = new Command('hoop');
  const ctx = (): CliContext => {
    throw new Error('not run');
  };
  for (const register of [registerLogin, registerConnect, registerSessions, registerGrants, registerExec, registerReviews, registerAudit]) {
    register(program, ctx);
  }
  const out: Array<{ path: string; options: string[] }> = [];
  const walk = (cmd: Command, prefix: string): void => {
    for (const sub of cmd.commands) {
      const path = `${prefix} ${sub.name()}`.trim();
      const options = (sub.options as readonly Option[]).map((o) => o.long).filter((l): l is string => l !== undefined);
      if (sub.commands.length === 0 || options.length > 0) out.push({ path, options });
      walk(sub, path);
    }
  };
  walk(program, '');
  return out;
}

describe('docs/cli.md', () => {
  const all = commands();
  const secs = sections();

  it('finds the commands (the walk itself works)', () => {
    expect(all.map((c) => c.path)).toEqual(expect.arrayContaining(['login', 'connect', 'exec', 'sessions show', 'audit verify']));
  });

  it('has a section for every command, and names each of its options there', () => {
    const problems: string[] = [];
    for (const c of all) {
      // `hoop approve … and hoop reject …` share one section: any heading naming the command counts.
      const own = secs.filter((s) => new RegExp('`hoop ' + c.path + '(?=[ `])').test(s.heading));
      if (own.length === 0) {
        problems.push(`no section for hoop ${c.path}`);
        continue;
      }
      for (const o of c.options) {
        if (!own.some((s) => s.text.includes(o))) problems.push(`hoop ${c.path}: ${o} is not in its section`);
      }
    }
    expect(problems).toEqual([]);
  });
});

import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The per-user config dir shared by the CLI and the agent: `HOOP_CONFIG_DIR`, else `$XDG_CONFIG_HOME/hoop`,
 * else `~/.config/hoop`. The caller passes the environment (only config loading reads process.env).
 */
export function configDir(env: Readonly<Record<string, string | undefined>>): string {
  if (env.HOOP_CONFIG_DIR) return env.HOOP_CONFIG_DIR;
  const xdg = env.XDG_CONFIG_HOME;
  return join(xdg && xdg.length > 0 ? xdg : join(homedir(), '.config'), 'hoop');
}

/** The agent's control socket, a 0600 unix socket inside the config dir. */
export function agentSocketPath(dir: string): string {
  return join(dir, 'agent.sock');
}

export function agentPidPath(dir: string): string {
  return join(dir, 'agent.pid');
}

export function agentLogPath(dir: string): string {
  return join(dir, 'agent.log');
}

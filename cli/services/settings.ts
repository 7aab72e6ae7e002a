/** Per-user CLI settings (the gateway URL), kept with `conf` in the config dir. */
import Conf from 'conf';

interface SettingsShape {
  gateway_url?: string;
}

export interface Settings {
  gatewayUrl(): string | undefined;
  setGatewayUrl(url: string): void;
  readonly path: string;
}

export function openSettings(configDir: string): Settings {
  const conf = new Conf<SettingsShape>({
    cwd: configDir,
    configName: 'config',
    projectName: 'hoop',
    schema: { gateway_url: { type: 'string' } },
  });
  return {
    gatewayUrl: () => conf.get('gateway_url'),
    setGatewayUrl: (url) => conf.set('gateway_url', url),
    path: conf.path,
  };
}

/**
 * Loads oidc-provider without its "Unsupported runtime" warning. oidc-provider 9 prints it on every Node.js
 * release before 22 as it loads, but runs on Node 20, which hoop supports (the dev IdP's flows are tested on it:
 * ../shared/LIBRARY-NOTES.md). Users of `npm start` were told to upgrade Node for nothing; every other warning
 * still reaches the console.
 */
import type * as OidcProvider from 'oidc-provider';

const UNSUPPORTED_RUNTIME = 'oidc-provider WARNING: Unsupported runtime';

export async function loadOidcProvider(): Promise<typeof OidcProvider> {
  const warn = console.warn;
  console.warn = (...args: unknown[]): void => {
    if (typeof args[0] === 'string' && args[0].includes(UNSUPPORTED_RUNTIME)) return;
    warn(...args);
  };
  try {
    return await import('oidc-provider');
  } finally {
    console.warn = warn;
  }
}

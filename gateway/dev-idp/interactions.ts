import type { IncomingMessage, ServerResponse } from 'node:http';
import type { InteractionDetails, Provider } from 'oidc-provider';
import type { Logger } from '../../shared/log.js';
import { authenticate, type DevUser } from './users.js';
import { errorPage, loginPage } from './views.js';

/** Our own interaction pages (devInteractions is off): a real login form, and consent granted without a screen. */
export interface InteractionRoutesOptions {
  provider: Provider;
  users: readonly DevUser[];
  logger: Logger;
}

const MAX_FORM_BYTES = 8 * 1024;
const ROUTE = /^\/interaction\/([\w-]+)(?:\/(login|abort))?$/;

/**
 * Returns a request handler for `/interaction/…`; it answers `false` for any other path so the caller can hand
 * the request to oidc-provider.
 * @see https://github.com/panva/node-oidc-provider/blob/v9.x/docs/README.md#user-flows
 */
export function createInteractionRoutes(options: InteractionRoutesOptions) {
  const { provider, users, logger } = options;

  return async function handleInteraction(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const path = new URL(req.url ?? '/', 'http://idp.invalid').pathname;
    const m = ROUTE.exec(path);
    if (!m) return false;
    const [, uid, action] = m;
    try {
      const details = await provider.interactionDetails(req, res);
      if (details.uid !== uid) {
        send(res, 400, errorPage('Sign-in expired', 'This sign-in page belongs to another attempt. Start again from your terminal.'));
      } else if (req.method === 'GET' && action === undefined) {
        await show(req, res, details);
      } else if (req.method === 'POST' && action === 'login') {
        await login(req, res, details);
      } else if (req.method === 'POST' && action === 'abort') {
        await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'End-User aborted interaction' }, { mergeWithLastSubmission: false });
      } else {
        send(res, 405, errorPage('Not allowed', `${req.method ?? 'This method'} is not allowed here.`));
      }
    } catch (e) {
      // oidc-provider's SessionNotFound: the interaction cookie is missing, or the interaction expired or finished.
      if (e instanceof Error && e.name === 'SessionNotFound') {
        send(res, 400, errorPage('Sign-in expired', 'This sign-in attempt expired or was already completed. Start again from your terminal.'));
      } else {
        logger.error('dev idp: interaction failed', { err: e, uid });
        send(res, 500, errorPage('Something went wrong', 'The identity provider could not complete this step.'));
      }
    }
    return true;
  };

  async function show(req: IncomingMessage, res: ServerResponse, details: InteractionDetails): Promise<void> {
    switch (details.prompt.name) {
      case 'login':
        send(res, 200, loginPage(loginView(details)));
        return;
      case 'consent':
        await grantConsent(req, res, details);
        return;
      default:
        send(res, 400, errorPage('Unsupported step', `The identity provider asked for "${details.prompt.name}", which the dev IdP does not offer.`));
    }
  }

  async function login(req: IncomingMessage, res: ServerResponse, details: InteractionDetails): Promise<void> {
    if (details.prompt.name !== 'login') {
      send(res, 400, errorPage('Already signed in', 'This step does not need a password. Start again from your terminal.'));
      return;
    }
    const form = await readForm(req);
    if (!form) {
      send(res, 413, errorPage('Form too large', 'The sign-in form was larger than any real sign-in. Go back and try again.'));
      return;
    }
    const name = form.get('login') ?? '';
    const user = authenticate(users, name, form.get('password') ?? '');
    if (!user) {
      logger.info('dev idp: login failed', { login: name });
      send(res, 400, loginPage({ ...loginView(details), login: name, error: 'Invalid username or password.' }));
      return;
    }
    logger.info('dev idp: login', { login: user.username });
    await provider.interactionFinished(req, res, { login: { accountId: user.username } }, { mergeWithLastSubmission: false });
  }

  /** Every dev IdP client is first party: grant what was asked for, as a consent screen would on "Allow". */
  async function grantConsent(req: IncomingMessage, res: ServerResponse, details: InteractionDetails): Promise<void> {
    const accountId = details.session?.accountId;
    const clientId = details.params.client_id;
    if (accountId === undefined || typeof clientId !== 'string') {
      send(res, 400, errorPage('Sign-in expired', 'There is no signed-in user for this step. Start again from your terminal.'));
      return;
    }
    const existing = details.grantId === undefined ? undefined : await provider.Grant.find(details.grantId);
    const grant = existing ?? new provider.Grant({ accountId, clientId });
    const missing = details.prompt.details;
    if (Array.isArray(missing.missingOIDCScope)) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (Array.isArray(missing.missingOIDCClaims)) grant.addOIDCClaims(missing.missingOIDCClaims as string[]);
    const resourceScopes = missing.missingResourceScopes;
    if (resourceScopes !== null && typeof resourceScopes === 'object') {
      for (const [indicator, scopes] of Object.entries(resourceScopes as Record<string, string[]>)) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
    }
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: existing ? {} : { grantId } }, { mergeWithLastSubmission: true });
  }
}

function loginView(details: InteractionDetails) {
  const clientId = typeof details.params.client_id === 'string' ? details.params.client_id : 'an application';
  return {
    action: `/interaction/${details.uid}/login`,
    abortAction: `/interaction/${details.uid}/abort`,
    clientName: clientId,
  };
}

function send(res: ServerResponse, status: number, html: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(html);
}

/** The urlencoded body, or null when it is over the limit. */
async function readForm(req: IncomingMessage): Promise<URLSearchParams | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  // Drain rather than stop early: leaving the loop destroys the request and, with it, the socket for the 413.
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= MAX_FORM_BYTES) chunks.push(chunk);
  }
  if (size > MAX_FORM_BYTES) return null;
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

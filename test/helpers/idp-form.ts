/**
 * Drives an identity provider's HTML login the way a browser would: cookie jar, manual redirects, real form
 * posts. Made for the dev IdP, but it only relies on plain HTML forms (login/password and user_code inputs).
 *
 *   await completeBrowserLogin(authorizationUrl, { login: 'alice', password: 'alice' });
 *   await completeDeviceLogin(verificationUri, userCode, { login: 'bob', password: 'bob' });
 */

export interface Credentials {
  login: string;
  password: string;
}

/** The last page fetched: the loopback callback's answer for a browser login, the success page for a device login. */
export interface FinalPage {
  url: string;
  status: number;
  body: string;
}

export interface BrowserLoginHelperOptions {
  /** Rewrites the callback URL before it is fetched, e.g. to tamper with `state`. */
  onCallback?: (url: URL) => URL;
}

/** The IdP showed the login (or user code) form again after it was posted. */
export class LoginRejectedError extends Error {
  override readonly name = 'LoginRejectedError';
  constructor(readonly page: FinalPage, reason: string) {
    super(`the identity provider rejected the login: ${reason}`);
  }
}

const MAX_STEPS = 25;

/**
 * Opens the authorization URL, signs in, and follows redirects until the IdP sends the browser elsewhere
 * (the CLI's `http://127.0.0.1:<port>/callback`), which is then fetched too.
 */
export async function completeBrowserLogin(authorizationUrl: string, creds: Credentials, options: BrowserLoginHelperOptions = {}): Promise<FinalPage> {
  const browser = new Browser(new URL(authorizationUrl).origin);
  return drive(browser, await browser.navigate(authorizationUrl, options.onCallback), creds, undefined, options.onCallback);
}

/** Opens the verification URI, enters the user code, confirms, signs in, and returns the final (success) page. */
export async function completeDeviceLogin(verificationUri: string, userCode: string, creds: Credentials): Promise<FinalPage> {
  const browser = new Browser(new URL(verificationUri).origin);
  return drive(browser, await browser.navigate(verificationUri), creds, userCode);
}

async function drive(browser: Browser, first: Page, creds: Credentials, userCode?: string, onCallback?: (u: URL) => URL): Promise<FinalPage> {
  let page = first;
  let passwordPosted = false;
  let codePosted = false;
  for (let step = 0; step < MAX_STEPS; step++) {
    if (page.left) return page;
    const forms = parseForms(page.body);
    const form = forms.find((f) => f.fields.has('password')) ?? forms.find((f) => f.fields.has('user_code')) ?? forms[0];
    if (!form) {
      if (userCode !== undefined && page.status === 200) return page;
      throw new Error(`login stopped at ${page.url} (HTTP ${page.status}): ${text(page.body).slice(0, 300)}`);
    }
    if (form.fields.has('password')) {
      if (passwordPosted) throw new LoginRejectedError(page, errorText(page.body));
      form.fields.set('login', creds.login);
      form.fields.set('password', creds.password);
      passwordPosted = true;
    }
    // The code entry form (the confirmation form carries user_code too, with confirm=yes).
    if (userCode !== undefined && form.fields.has('user_code') && !form.fields.has('confirm')) {
      if (codePosted) throw new LoginRejectedError(page, errorText(page.body));
      form.fields.set('user_code', userCode);
      codePosted = true;
    }
    const action = new URL(form.action || page.url, page.url).href;
    page = form.method === 'get'
      ? await browser.navigate(`${action.split('?')[0]}?${new URLSearchParams([...form.fields])}`, onCallback)
      : await browser.navigate(action, onCallback, new URLSearchParams([...form.fields]));
  }
  throw new Error(`login did not finish within ${MAX_STEPS} pages`);
}

interface Page extends FinalPage {
  /** The IdP redirected away from itself (to the callback), and that page was fetched. */
  left: boolean;
}

/** Cookie jar + manual redirects, for one origin. Cookies are matched by path only; that is all the IdP needs. */
class Browser {
  private readonly cookies = new Map<string, { name: string; value: string; path: string }>();
  constructor(private readonly origin: string) {}

  async navigate(url: string, onCallback?: (u: URL) => URL, form?: URLSearchParams): Promise<Page> {
    let target = new URL(url);
    let body = form;
    for (let hop = 0; hop < MAX_STEPS; hop++) {
      if (target.origin !== this.origin) {
        const final = onCallback ? onCallback(target) : target;
        const res = await fetch(final, { redirect: 'manual' });
        return { url: final.href, status: res.status, body: await res.text(), left: true };
      }
      const headers: Record<string, string> = { accept: 'text/html' };
      const cookie = this.cookieHeader(target.pathname);
      if (cookie) headers.cookie = cookie;
      const res = await fetch(target, body ? { method: 'POST', body, headers, redirect: 'manual' } : { headers, redirect: 'manual' });
      this.store(res.headers.getSetCookie());
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        await res.body?.cancel();
        target = new URL(location, target);
        body = undefined;
        continue;
      }
      return { url: target.href, status: res.status, body: await res.text(), left: false };
    }
    throw new Error(`too many redirects from ${url}`);
  }

  private cookieHeader(path: string): string {
    return [...this.cookies.values()]
      .filter((c) => path === c.path || path.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  private store(setCookies: string[]): void {
    for (const line of setCookies) {
      const [pair = '', ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = '/';
      let expired = false;
      for (const attr of attrs) {
        const [k = '', v = ''] = attr.split('=').map((s) => s.trim());
        if (k.toLowerCase() === 'path' && v) path = v;
        if (k.toLowerCase() === 'max-age' && Number(v) <= 0) expired = true;
        if (k.toLowerCase() === 'expires' && Date.parse(v) <= Date.now()) expired = true;
      }
      if (expired) this.cookies.delete(`${name};${path}`);
      else this.cookies.set(`${name};${path}`, { name, value, path });
    }
  }
}

export interface Form {
  action: string;
  method: 'get' | 'post';
  fields: Map<string, string>;
}

/** Every `<form>` with its `<input>`s (buttons are left out, as a browser does for buttons not clicked). */
export function parseForms(html: string): Form[] {
  const forms: Form[] = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const attrs = parseAttributes(m[1] ?? '');
    const fields = new Map<string, string>();
    for (const input of (m[2] ?? '').matchAll(/<input\b([^>]*)>/gi)) {
      const a = parseAttributes(input[1] ?? '');
      const name = a.get('name');
      if (name !== undefined) fields.set(name, a.get('value') ?? '');
    }
    forms.push({ action: attrs.get('action') ?? '', method: attrs.get('method')?.toLowerCase() === 'post' ? 'post' : 'get', fields });
  }
  return forms;
}

function parseAttributes(s: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of s.matchAll(/([^\s"'=<>/]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g)) {
    out.set((m[1] ?? '').toLowerCase(), decode(m[2] ?? m[3] ?? m[4] ?? ''));
  }
  return out;
}

function decode(s: string): string {
  return s
    .replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

function text(html: string): string {
  return decode(html.replace(/<(script|style)\b[\s\S]*?<\/\1>/gi, ' ').replace(/<[^>]+>/g, ' ')).replace(/\s+/g, ' ').trim();
}

/** The text of an element marked as an alert or error, else the page title. */
function errorText(html: string): string {
  const m = /<(\w+)[^>]*(?:role="alert"|class="[^"]*error[^"]*")[^>]*>([\s\S]*?)<\/\1>/i.exec(html) ?? /<title>([\s\S]*?)<\/title>/i.exec(html);
  return text(m?.[2] ?? m?.[1] ?? 'login form shown again');
}

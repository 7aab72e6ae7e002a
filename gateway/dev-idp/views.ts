/**
 * The dev IdP's HTML pages: login, the device flow's code entry, confirmation and success, and errors.
 * Plain forms that work without JavaScript, so tests (and curl) can drive them like a browser.
 */

const BANNER = 'hoop dev identity provider — demo users alice/alice, bob/bob';

const STYLE = `body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem;color:#1d2430}
h1{font-size:1.4rem}label{display:block;margin:.8rem 0 .2rem}input[type=text],input[type=password]{width:100%;padding:.45rem;box-sizing:border-box;font-size:1rem}
button{margin-top:1rem;padding:.45rem 1.2rem;font-size:1rem}button.link{background:none;border:none;color:#555;text-decoration:underline;cursor:pointer}
.error{color:#b00020;font-weight:600}.banner{color:#666;font-size:.85rem;border-top:1px solid #ddd;margin-top:2rem;padding-top:.6rem}
code.user-code{font-size:1.6rem;letter-spacing:.1rem}`;

/** Escapes text for HTML element content and double-quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A whole page. `body` must already be safe HTML. */
export function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${body}
<p class="banner">${escapeHtml(BANNER)}</p>
</body>
</html>
`;
}

export interface LoginView {
  action: string;
  abortAction: string;
  clientName: string;
  /** Re-filled after a failed attempt; the password never is. */
  login?: string;
  error?: string;
}

export function loginPage(v: LoginView): string {
  const error = v.error ? `<p class="error" role="alert">${escapeHtml(v.error)}</p>\n` : '';
  return page('Sign in', `<p>Sign in to continue to <strong>${escapeHtml(v.clientName)}</strong>.</p>
${error}<form method="post" action="${escapeHtml(v.action)}" autocomplete="off">
<label for="login">Username</label>
<input type="text" id="login" name="login" value="${escapeHtml(v.login ?? '')}" required autofocus>
<label for="password">Password</label>
<input type="password" id="password" name="password" required>
<button type="submit">Sign in</button>
</form>
<form method="post" action="${escapeHtml(v.abortAction)}"><button type="submit" class="link">Cancel</button></form>`);
}

/** `form` is oidc-provider's own form (CSRF token included); its buttons sit outside it, linked by `form=`. */
export function deviceInputPage(form: string, error?: string): string {
  const message = error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : '<p>Enter the code shown in your terminal.</p>';
  return page('Connect a device', `${message}
${form}
<button type="submit" form="op.deviceInputForm">Continue</button>`);
}

export function deviceConfirmPage(form: string, clientName: string, userCode: string): string {
  return page('Confirm the device', `<p><strong>${escapeHtml(clientName)}</strong> is asking to sign in.
Check that your terminal shows this code:</p>
<p><code class="user-code">${escapeHtml(userCode)}</code></p>
<p>If you did not start this, or the code differs, abort.</p>
${form}
<button type="submit" form="op.deviceConfirmForm">Continue</button>
<button type="submit" form="op.deviceConfirmForm" name="abort" value="yes" class="link">Abort</button>`);
}

export function deviceSuccessPage(clientName: string): string {
  return page('Signed in', `<p>You are signed in to <strong>${escapeHtml(clientName)}</strong>. You can close this tab and return to your terminal.</p>`);
}

export function errorPage(title: string, message: string): string {
  return page(title, `<p class="error" role="alert">${escapeHtml(message)}</p>`);
}

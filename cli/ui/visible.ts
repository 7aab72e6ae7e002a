/**
 * Text from other people (a statement held for review, a grant's reason, an error echoing SQL) is shown to
 * approvers and auditors on their terminals. Control characters in it could rewrite what they see: `ESC [2K`
 * erases the line a DELETE was on, `\r` writes over it, a right-to-left override reorders it. Here they become
 * visible escapes instead (`\x1b`, `\r`, `\u202e`), so what is shown is what was sent.
 */

/** C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides and isolates. */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
/** The same, with tab and newline: for a table cell or a one-line field, which must stay on its line. */
// eslint-disable-next-line no-control-regex
const UNSAFE_IN_LINE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Readonly<Record<string, string>> = { '\t': '\\t', '\n': '\\n', '\r': '\\r' };

function escape(c: string): string {
  const named = NAMED[c];
  if (named) return named;
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `s` with every control character but tab and newline shown as an escape. */
export function visible(s: string): string {
  return s.replace(UNSAFE, escape);
}

/** `s` on one line: tabs and newlines shown as escapes too. */
export function visibleInLine(s: string): string {
  return s.replace(UNSAFE_IN_LINE, escape);
}

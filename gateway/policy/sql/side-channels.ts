/**
 * Functions that carry a value out of a statement other than as a result column: what they are given reaches
 * the client (or another session) where no result masking applies.
 *
 * - `pg_notify(channel, payload)`: the payload arrives as a NotificationResponse on every listening session.
 * - `set_config(name, value, is_local)`: the value stays in the session, and `SHOW name` or `current_setting(name)`
 *   return it later as a value with no column origin.
 *
 * Masking refuses statements that pass a masked column to one of these (see masking-plan.ts).
 */
import { asNode, eachObject, names, type Obj } from './ast.js';
import type { SideChannelCall } from './facts.js';
import { columnUsesIn, lazyRelationNames } from './outputs.js';

export const SIDE_CHANNEL_FUNCTIONS: ReadonlySet<string> = new Set(['pg_notify', 'set_config']);

/** Every call to a side-channel function in a statement's tree (at any depth), with the columns its arguments use. */
export function sideChannelCalls(root: Obj): SideChannelCall[] {
  const relations = lazyRelationNames(root);
  const out: SideChannelCall[] = [];
  eachObject(root, (v) => {
    const n = asNode(v);
    const bare = n?.type === 'FuncCall' ? names(n.body.funcname)?.at(-1)?.toLowerCase() : undefined;
    if (n && bare !== undefined && SIDE_CHANNEL_FUNCTIONS.has(bare)) {
      out.push({ function: bare, uses: columnUsesIn(n.body.args, relations) });
    }
  });
  return out;
}

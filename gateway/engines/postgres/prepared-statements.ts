/**
 * What the session keeps, by name, of each prepared statement and portal of the extended protocol (in
 * {@link ExtendedNames}): enough to record an Execute with its text and parameters, to mask its results, and to
 * let a statement approved once run once. Types only, and the command tags that release prepared statements.
 */
import type { ExtendedNames } from './extended-names.js';
import type { MaskPortal, MaskStatement } from './result-masker.js';

/** A prepared statement as the session keeps it: its text, the gate's decision, and what the masker knows of it. */
export interface Prepared {
  sql: string;
  decision: string;
  details: Record<string, unknown>;
  /** Ran under an approval: it may not be bound again. */
  spent: boolean;
  /** A COPY … FROM STDIN: executing it puts the server in copy-in mode. */
  copyIn?: boolean;
  /** A DEALLOCATE or DISCARD ALL: executing it removes prepared statements (StatementFacts.releases). */
  releases?: string | null;
  mask: MaskStatement | undefined;
}

/** A portal: the statement it was bound to (as it was then), its parameters, and whether it ran. */
export interface Portal {
  text: string;
  parameters: (string | null)[];
  statement: Prepared | undefined;
  decision: string;
  details: Record<string, unknown>;
  ran: boolean;
  mask: MaskPortal | undefined;
}

/** The session's prepared statements and portals by name. */
export type SessionNames = ExtendedNames<Prepared, Portal>;

/** The command tags of the statements that remove prepared statements (StatementFacts.releases). */
export const RELEASE_TAGS: ReadonlySet<string> = new Set(['DEALLOCATE', 'DEALLOCATE ALL', 'DISCARD ALL']);

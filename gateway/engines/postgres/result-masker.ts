/**
 * Masks results on their way to the client. It follows what the server is answering (a simple query's
 * statements in order, or the extended protocol's Describe and Execute messages, pipeline by pipeline, each
 * with the statement or portal it named when it was sent), plans
 * each result once at its RowDescription (or at CopyOutResponse), and rewrites DataRows and COPY data by that
 * plan. Frames it does not change are forwarded as they came. When a result cannot be planned, it fails closed.
 */
import { HoopError } from '../../../shared/errors.js';
import type { MaskingRules } from '../../config/masking-schema.js';
import { createCopyMasker, maskDataRow, type CopyMasker, type CopyMaskOptions, type MaskAction, type MaskContext } from '../../masking/index.js';
import type { ColumnType } from '../../masking/index.js';
import type { CopySettings, StatementFacts } from '../../policy/sql/facts.js';
import type { Catalog } from './catalog.js';
import { knownTokens, maskMessageFields, maskMessageText } from '../../masking/message-text.js';
import { planCopy, planResult, ruleForTable, type ColumnOrigin, type PlannedColumn } from './masking-plan.js';
import { BackendTag, buildFrame, decodeBackend, encodeCopyData, wireBytes, type FieldDescription, type Frame } from './protocol/index.js';

interface Plan {
  actions: (MaskAction | null)[];
  rules: (string | null)[];
  names: string[];
  columns: ColumnType[];
  any: boolean;
}

/** What the masker keeps of a prepared statement: its facts, and its result once described. */
export interface MaskStatement { facts: StatementFacts | undefined; readsMasked: boolean; fields?: FieldDescription[]; origins?: (ColumnOrigin | null)[] }
/** What the masker keeps of a portal: the statement it was bound to (as it was then), its formats and plan. */
export interface MaskPortal { statement: MaskStatement | undefined; resultFormats: number[]; fields?: FieldDescription[]; origins?: (ColumnOrigin | null)[]; plan?: Plan | undefined }

/**
 * Answers the server owes, each with the object it answers about, captured when the client's message was
 * forwarded: a later Parse or Bind of the same name (pipelined before the answer) cannot change what an earlier
 * message's result is masked by. `unit` numbers the ReadyForQuery that ends the message's pipeline or query.
 */
interface Describe { target: MaskStatement | MaskPortal | undefined; unit: number }
interface Exec { portal: MaskPortal | undefined; unit: number }
interface Simple { facts: StatementFacts[]; cursor: number; unit: number }
/** What the client sent in one unit (its SQL and parameters), and whether it reads tables with masked columns. */
interface Sent { unit: number; sql: string[]; parameters: string[]; values: boolean }

/** Masked values counted per rule and column, for the statement's record. */
export type MaskingSummary = Record<string, { rule: string; values: number }>;

export class ResultMasker {
  readonly #rules: MaskingRules;
  readonly #catalog: Catalog;
  readonly #ctx: MaskContext;
  #describes: Describe[] = [];
  #executes: Exec[] = [];
  /** Simple queries forwarded and not yet answered to their ReadyForQuery: a client may send several at once. */
  #simples: Simple[] = [];
  /** Per unit not yet answered: what errors and notices answering it may quote back unmasked. */
  #sent: Sent[] = [];
  /** ReadyForQuery answers owed (a Query or Sync forwarded) and seen: the server answers units in order. */
  #unitsSent = 0;
  #readySeen = 0;
  #plan: Plan | null = null;
  #copy: { masker: CopyMasker; plan: PlannedColumn[]; names: string[] } | null = null;
  #summary: MaskingSummary = {};

  constructor(rules: MaskingRules, catalog: Catalog, hashKey: Buffer) {
    this.#rules = rules;
    this.#catalog = catalog;
    this.#ctx = { hashKey };
  }

  // What the client sent (in order), so the answers can be matched to statements.
  /** A simple Query forwarded: its statements' facts, answered in order up to one ReadyForQuery. */
  query(facts: StatementFacts[]): void {
    for (const f of facts) this.#sending(f.text, this.#readsMasked(f));
    this.#simples.push({ facts, cursor: 0, unit: this.#unitsSent++ });
  }
  /** A Parse forwarded: the statement object to keep under its name (the session keeps names; see ExtendedNames). */
  statement(facts: StatementFacts | undefined, sql: string): MaskStatement {
    const readsMasked = !facts || this.#readsMasked(facts);
    this.#sending(sql, readsMasked);
    return { facts, readsMasked };
  }
  /** A Bind forwarded: the portal object, bound to the statement as it is now. */
  portal(statement: MaskStatement | undefined, resultFormats: number[], parameters: readonly (string | null)[]): MaskPortal {
    this.#sending(null, statement?.readsMasked ?? true);
    const s = this.#sent[this.#sent.length - 1]!;
    for (const p of parameters) if (p !== null) s.parameters.push(p);
    return { statement, resultFormats };
  }
  describe(target: MaskStatement | MaskPortal | undefined): void {
    this.#describes.push({ target, unit: this.#unitsSent });
  }
  execute(portal: MaskPortal | undefined): void {
    this.#sending(null, portal?.statement?.readsMasked ?? true); // a portal bound in an earlier pipeline
    this.#executes.push({ portal, unit: this.#unitsSent });
  }
  sync(): void {
    this.#unitsSent++;
  }

  /** The masking done since the last call (for the statement record), or null when nothing was masked. */
  takeSummary(): MaskingSummary | null {
    const s = this.#summary;
    if (Object.keys(s).length === 0) return null;
    this.#summary = {};
    return s;
  }

  /** Whether {@link prepare} must run (and be awaited) before {@link rewrite} for this frame. */
  static needsPrepare(tag: number | null): boolean {
    return tag === BackendTag.RowDescription || tag === BackendTag.CopyOutResponse;
  }

  /** Plans a result at its RowDescription or CopyOutResponse (may read the catalog). Throws HoopError to fail closed. */
  async prepare(f: Frame): Promise<void> {
    if (f.tag === BackendTag.RowDescription) await this.#rowDescription((decodeBackend(f.tag!, f.body) as { fields: FieldDescription[] }).fields);
    else if (f.tag === BackendTag.CopyOutResponse) await this.#copyOut(decodeBackend(f.tag, f.body) as { format: number });
  }

  /** The bytes to forward for one server frame: itself, or its masked rewrite. Throws HoopError to fail closed. */
  rewrite(f: Frame): Buffer[] {
    let bytes = f.raw;
    switch (f.tag) {
      case BackendTag.NoData:
        if (!this.#answering()) this.#describes.shift();
        break;
      case BackendTag.DataRow: {
        const plan = this.#answering() ? this.#plan : this.#portalPlan();
        if (plan === undefined) throw unplannable();
        if (plan?.any) {
          const r = maskDataRow(f, plan.actions, plan.columns, this.#ctx);
          if (r.changed) {
            this.#count(plan, r.masked);
            return [r.frame];
          }
        }
        break;
      }
      case BackendTag.CopyData:
        if (this.#copy) {
          const data = this.#copy.masker.pushMessages(f.raw);
          return data.length ? [data] : [];
        }
        break;
      case BackendTag.CopyDone:
        if (this.#copy) {
          const rest = this.#copy.masker.end();
          this.#countCopy();
          this.#copy = null;
          return rest.length ? [encodeCopyData(rest), f.raw] : [f.raw];
        }
        break;
      case BackendTag.CommandComplete:
      case BackendTag.EmptyQueryResponse:
      case BackendTag.PortalSuspended:
        this.#endResult();
        break;
      case BackendTag.NoticeResponse:
        return [this.#maskMessage(f)];
      case BackendTag.NotificationResponse:
        return [this.#maskNotification(f)];
      case BackendTag.ErrorResponse:
        this.#copy = null;
        bytes = this.#maskMessage(f);
        if (this.#answering()) this.#endResult();
        else this.#dropUnit(this.#readySeen); // the server skips the rest of the pipeline
        break;
      case BackendTag.ReadyForQuery:
        this.#readySeen++;
        this.#plan = null;
        while (this.#simples.length && this.#simples[0]!.unit < this.#readySeen) this.#simples.shift();
        while (this.#describes.length && this.#describes[0]!.unit < this.#readySeen) this.#describes.shift();
        while (this.#executes.length && this.#executes[0]!.unit < this.#readySeen) this.#executes.shift();
        while (this.#sent.length && this.#sent[0]!.unit < this.#readySeen) this.#sent.shift();
        break;
      default:
        break;
    }
    return [bytes];
  }

  /**
   * The bytes to forward for consecutive CopyData frames (a COPY sends one per row): one buffer of whole CopyData
   * messages, so a batch is masked, recorded and written as one. The frames are usually adjacent in their chunk,
   * so joining them costs nothing, and the masker rewrites them in place: the frames' bytes are spent (the caller
   * forwards what this returns, never the frames). Throws HoopError to fail closed.
   */
  rewriteCopyData(frames: readonly Frame[]): Buffer {
    const messages = wireBytes(frames);
    return this.#copy ? this.#copy.masker.pushMessages(messages) : messages;
  }

  async #rowDescription(fields: FieldDescription[]): Promise<void> {
    const origins = await this.#catalog.origins(fields);
    const simple = this.#answering();
    if (simple) {
      this.#plan = this.#planFor(fields, origins, simple.facts[simple.cursor], fields.map((x) => x.format));
      return;
    }
    const d = this.#describes[0];
    if (!d || d.unit !== this.#readySeen) return;
    // NoData or this RowDescription answers the Describe; it is consumed in rewrite() for NoData, here otherwise.
    this.#describes.shift();
    if (d.target) Object.assign(d.target, { fields, origins }, 'statement' in d.target ? { plan: undefined } : {});
  }

  #readsMasked(f: StatementFacts): boolean {
    return this.#rules.columns.length > 0 && f.tables.some((t) => ruleForTable(t, this.#rules) !== undefined);
  }

  #sending(text: string | null, values: boolean): void {
    const unit = this.#unitsSent;
    let s = this.#sent[this.#sent.length - 1];
    if (s?.unit !== unit) this.#sent.push((s = { unit, sql: [], parameters: [], values: false }));
    if (text !== null) s.sql.push(text);
    s.values ||= values;
  }

  /**
   * An ErrorResponse or NoticeResponse with the values it quotes masked, when it answers a unit that reads tables
   * with masked columns (or an unknown one), and with what the detectors find masked in any case.
   */
  #maskMessage(f: Frame): Buffer {
    const s = this.#sent[0]?.unit === this.#readySeen ? this.#sent[0] : undefined;
    const values = s ? s.values : this.#rules.columns.length > 0;
    if (!values && this.#rules.detectors.length === 0) return f.raw;
    const fields = (decodeBackend(f.tag!, f.body) as { fields: Record<string, string> }).fields;
    const masking = { values, known: s ? knownTokens(s.sql, s.parameters) : new Set<string>(), detectors: this.#rules.detectors, strategy: this.#rules.detectorStrategy, ctx: this.#ctx };
    const masked = maskMessageFields(fields, masking, f.tag === BackendTag.NoticeResponse);
    if (masked === fields) return f.raw;
    return buildFrame(f.tag!, [...Object.entries(masked).flatMap(([k, v]) => [{ i8: k.charCodeAt(0) }, { cstr: v }]), { i8: 0 }]);
  }

  /** A NotificationResponse (pg_notify, NOTIFY) with what the detectors find in its payload masked. */
  #maskNotification(f: Frame): Buffer {
    if (this.#rules.detectors.length === 0) return f.raw;
    const n = decodeBackend(f.tag!, f.body) as { pid: number; channel: string; payload: string };
    const payload = maskMessageText(n.payload, { values: false, known: new Set<string>(), detectors: this.#rules.detectors, strategy: this.#rules.detectorStrategy, ctx: this.#ctx });
    if (payload === n.payload) return f.raw;
    return buildFrame(f.tag!, [{ i32: n.pid }, { cstr: n.channel }, { cstr: payload }]);
  }

  /** The simple query the server is answering now, or null when it is answering an extended-protocol pipeline. */
  #answering(): Simple | null {
    const s = this.#simples[0];
    return s && s.unit === this.#readySeen ? s : null;
  }

  /** The Execute the server is answering now, if it is answering one of the current pipeline's. */
  #executing(): Exec | undefined {
    const e = this.#executes[0];
    return e?.unit === this.#readySeen ? e : undefined;
  }

  /** The plan for the portal being executed: undefined when its result was never described (cannot mask). */
  #portalPlan(): Plan | null | undefined {
    const p = this.#executing()?.portal;
    if (!p) return undefined;
    if (p.plan) return p.plan;
    const st = p.statement;
    const fields = p.fields ?? st?.fields;
    const origins = p.fields ? p.origins : st?.origins;
    if (!fields || !origins) return undefined;
    const formats = fields.map((_, i) => (p.resultFormats.length === 0 ? 0 : p.resultFormats.length === 1 ? p.resultFormats[0]! : p.resultFormats[i] ?? 0));
    p.plan = this.#planFor(fields, origins, st?.facts, formats);
    return p.plan;
  }

  #planFor(fields: FieldDescription[], origins: (ColumnOrigin | null)[], facts: StatementFacts | undefined, formats: number[]): Plan {
    const planned = planResult(fields, origins, facts, this.#rules);
    return {
      actions: planned.map((p) => p.action),
      rules: planned.map((p) => p.rule),
      names: fields.map((x) => x.name),
      columns: fields.map((x, i) => ({ typeOid: x.typeOid, format: formats[i] === 1 ? 1 : 0 })),
      any: planned.some((p) => p.action !== null),
    };
  }

  async #copyOut(resp: { format: number }): Promise<void> {
    const simple = this.#answering();
    const facts = simple ? simple.facts[simple.cursor] : this.#executing()?.portal?.statement?.facts;
    if (!facts?.copy) {
      if (this.#rules.columns.length || this.#rules.detectors.length) throw unplannable();
      return;
    }
    const tableColumns = !facts.copy.query && facts.copy.table && !facts.copy.columns ? await this.#catalog.tableColumns(facts.copy.table) : null;
    const plan = planCopy(facts, tableColumns, this.#rules);
    if (!plan.some((p) => p.action)) return;
    if (resp.format !== 0 || facts.copy.format === 'binary') throw new HoopError('blocked', 'hoop: COPY in binary format cannot be masked; use FORMAT text or csv');
    const names = !facts.copy.query && facts.copy.table ? (facts.copy.columns ?? tableColumns ?? []) : facts.outputs.map((o, i) => o.name ?? `column${i + 1}`);
    this.#copy = {
      plan,
      names,
      masker: createCopyMasker({
        format: facts.copy.format === 'csv' ? 'csv' : 'text',
        ...copySyntax(facts.copy.settings),
        plan: plan.map((p) => p.action),
        // COPY carries text: every column is masked as text.
        columns: plan.map(() => ({ typeOid: 25, textLike: true })),
        ctx: this.#ctx,
      }),
    };
  }

  #endResult(): void {
    const simple = this.#answering();
    if (simple) {
      simple.cursor++;
      this.#plan = null;
    } else if (this.#executing()) {
      this.#executes.shift();
    }
  }

  #dropUnit(unit: number): void {
    this.#describes = this.#describes.filter((d) => d.unit !== unit);
    this.#executes = this.#executes.filter((e) => e.unit !== unit);
  }

  #count(plan: Plan, masked: readonly number[]): void {
    masked.forEach((n, i) => {
      if (!n) return;
      const key = plan.names[i]!;
      const entry = (this.#summary[key] ??= { rule: plan.rules[i] ?? 'detectors', values: 0 });
      entry.values += n;
    });
  }

  #countCopy(): void {
    const c = this.#copy!;
    c.masker.masked.forEach((n, i) => {
      if (!n) return;
      const key = c.names[i] ?? `column${i + 1}`;
      const entry = (this.#summary[key] ??= { rule: c.plan[i]?.rule ?? 'detectors', values: 0 });
      entry.values += n;
    });
  }
}

function unplannable(): HoopError {
  return new HoopError('blocked', 'hoop: this result cannot be masked (its columns were not described to the gateway); the session is closed to protect masked data');
}

/** COPY's HEADER, DELIMITER, NULL, QUOTE and ESCAPE as the masker takes them: those the statement gave. */
function copySyntax({ unread: _unread, ...given }: CopySettings): Pick<CopyMaskOptions, 'header' | 'delimiter' | 'null' | 'quote' | 'escape'> {
  return given;
}

/**
 * Masks results on their way to the client. It follows what the server is answering (a simple query's
 * statements in order, or the extended protocol's Describe and Execute messages, pipeline by pipeline), plans
 * each result once at its RowDescription (or at CopyOutResponse), and rewrites DataRows and COPY data by that
 * plan. Frames it does not change are forwarded as they came. When a result cannot be planned, it fails closed.
 */
import { HoopError } from '../../../shared/errors.js';
import type { MaskingRules } from '../../config/masking-schema.js';
import { createCopyMasker, maskDataRow, type CopyMasker, type CopyMaskOptions, type MaskAction, type MaskContext } from '../../masking/index.js';
import type { ColumnType } from '../../masking/index.js';
import type { CopySettings, StatementFacts } from '../../policy/sql/facts.js';
import type { Catalog } from './catalog.js';
import { planCopy, planResult, type ColumnOrigin, type PlannedColumn } from './masking-plan.js';
import { BackendTag, decodeBackend, encodeCopyData, wireBytes, type FieldDescription, type Frame } from './protocol/index.js';

interface Plan {
  actions: (MaskAction | null)[];
  rules: (string | null)[];
  names: string[];
  columns: ColumnType[];
  any: boolean;
}

interface PortalState { statement: string; resultFormats: number[]; fields?: FieldDescription[]; origins?: (ColumnOrigin | null)[]; plan?: Plan | undefined }
interface Pending { kind: 'describe'; target: 'S' | 'P'; name: string; pipeline: number }
interface Exec { portal: string; pipeline: number }

/** Masked values counted per rule and column, for the statement's record. */
export type MaskingSummary = Record<string, { rule: string; values: number }>;

export class ResultMasker {
  readonly #rules: MaskingRules;
  readonly #catalog: Catalog;
  readonly #ctx: MaskContext;
  readonly #statements = new Map<string, { facts: StatementFacts | undefined; fields?: FieldDescription[]; origins?: (ColumnOrigin | null)[] }>();
  readonly #portals = new Map<string, PortalState>();
  #describes: Pending[] = [];
  #executes: Exec[] = [];
  #syncsSent = 0;
  #readySeen = 0;
  #simple: { facts: StatementFacts[]; cursor: number } | null = null;
  #plan: Plan | null = null;
  #copy: { masker: CopyMasker; plan: PlannedColumn[]; names: string[] } | null = null;
  #summary: MaskingSummary = {};

  constructor(rules: MaskingRules, catalog: Catalog, hashKey: Buffer) {
    this.#rules = rules;
    this.#catalog = catalog;
    this.#ctx = { hashKey };
  }

  // What the client sent (in order), so the answers can be matched to statements.
  query(facts: StatementFacts[]): void {
    this.#simple = { facts, cursor: 0 };
  }
  parse(name: string, facts: StatementFacts | undefined): void {
    this.#statements.set(name, { facts });
  }
  bind(portal: string, statement: string, resultFormats: number[]): void {
    this.#portals.set(portal, { statement, resultFormats });
  }
  describe(target: 'S' | 'P', name: string): void {
    this.#describes.push({ kind: 'describe', target, name, pipeline: this.#syncsSent });
  }
  execute(portal: string): void {
    this.#executes.push({ portal, pipeline: this.#syncsSent });
  }
  close(target: 'S' | 'P', name: string): void {
    if (target === 'S') this.#statements.delete(name);
    else this.#portals.delete(name);
  }
  sync(): void {
    this.#syncsSent++;
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
    if (f.tag === BackendTag.RowDescription) await this.#rowDescription((decodeBackend(f.tag, f.body) as { fields: FieldDescription[] }).fields);
    else if (f.tag === BackendTag.CopyOutResponse) await this.#copyOut(decodeBackend(f.tag, f.body) as { format: number });
  }

  /** The bytes to forward for one server frame: itself, or its masked rewrite. Throws HoopError to fail closed. */
  rewrite(f: Frame): Buffer[] {
    switch (f.tag) {
      case BackendTag.NoData:
        if (!this.#simple) this.#describes.shift();
        break;
      case BackendTag.DataRow: {
        const plan = this.#simple ? this.#plan : this.#portalPlan();
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
      case BackendTag.ErrorResponse:
        this.#copy = null;
        if (this.#simple) this.#endResult();
        else this.#dropPipeline(this.#executes[0]?.pipeline ?? this.#describes[0]?.pipeline);
        break;
      case BackendTag.ReadyForQuery:
        this.#readySeen++;
        this.#simple = null;
        this.#plan = null;
        this.#describes = this.#describes.filter((d) => d.pipeline >= this.#readySeen);
        this.#executes = this.#executes.filter((e) => e.pipeline >= this.#readySeen);
        break;
      default:
        break;
    }
    return [f.raw];
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
    if (this.#simple) {
      this.#plan = this.#planFor(fields, origins, this.#simple.facts[this.#simple.cursor], fields.map((x) => x.format));
      return;
    }
    const d = this.#describes[0];
    if (!d) return;
    // NoData or this RowDescription answers the Describe; it is consumed in rewrite() for NoData, here otherwise.
    this.#describes.shift();
    if (d.target === 'S') {
      const st = this.#statements.get(d.name);
      if (st) Object.assign(st, { fields, origins });
    } else {
      const p = this.#portals.get(d.name);
      if (p) Object.assign(p, { fields, origins, plan: undefined });
    }
  }

  /** The plan for the portal being executed: undefined when its result was never described (cannot mask). */
  #portalPlan(): Plan | null | undefined {
    const e = this.#executes[0];
    const p = e ? this.#portals.get(e.portal) : undefined;
    if (!p) return undefined;
    if (p.plan) return p.plan;
    const st = this.#statements.get(p.statement);
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
    const facts = this.#simple?.facts[this.#simple.cursor];
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
    if (this.#simple) {
      this.#simple.cursor++;
      this.#plan = null;
    } else {
      this.#executes.shift();
    }
  }

  #dropPipeline(pipeline: number | undefined): void {
    if (pipeline === undefined) return;
    this.#describes = this.#describes.filter((d) => d.pipeline !== pipeline);
    this.#executes = this.#executes.filter((e) => e.pipeline !== pipeline);
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

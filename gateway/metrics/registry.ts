/**
 * A small metrics registry rendered in the Prometheus text exposition format (version 0.0.4), so that any
 * Prometheus-compatible scraper (Prometheus, the OpenTelemetry collector, Grafana Agent, Datadog) can read the
 * gateway. Counters, gauges and histograms, each with a fixed set of label names.
 *
 * Labels are resolved once into a child (`labels(...)`), so that the data path pays one Map lookup per update and
 * no allocation. Label values must come from a bounded set (connection names, decisions): never a user, a
 * statement or an address.
 *
 * @see https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 */

type Kind = 'counter' | 'gauge' | 'histogram';

/** Something the registry renders: a family of samples sharing a name, a help text and a type. */
interface Family {
  readonly name: string;
  render(out: string[]): void;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function escapeHelp(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabelValue(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** A sample value as the format writes it (`+Inf`, `-Inf`, `NaN`, or a decimal number). */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function header(out: string[], name: string, help: string, kind: Kind): void {
  out.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${kind}`);
}

/** `{a="x",b="y"}`, or '' for no labels; `extra` is appended (a histogram's `le`). */
function labelText(names: readonly string[], values: readonly string[], extra = ''): string {
  const parts = names.map((n, i) => `${n}="${escapeLabelValue(values[i]!)}"`);
  if (extra) parts.push(extra);
  return parts.length ? `{${parts.join(',')}}` : '';
}

/** The children of a family, one per distinct combination of label values, in creation order. */
abstract class Labelled<C> implements Family {
  readonly #children = new Map<string, { values: string[]; child: C }>();

  constructor(readonly name: string, readonly help: string, readonly labelNames: readonly string[]) {
    if (!NAME.test(name)) throw new Error(`invalid metric name ${JSON.stringify(name)}`);
    for (const l of labelNames) if (!LABEL.test(l) || l === 'le' || l.startsWith('__')) throw new Error(`invalid label name ${JSON.stringify(l)}`);
  }

  /** The child for these label values, in the order of the family's label names. */
  labels(...values: string[]): C {
    if (values.length !== this.labelNames.length) {
      throw new Error(`${this.name} takes ${this.labelNames.length} label value(s), got ${values.length}`);
    }
    const key = values.join('\u0000');
    let entry = this.#children.get(key);
    if (!entry) {
      entry = { values: [...values], child: this.create() };
      this.#children.set(key, entry);
    }
    return entry.child;
  }

  protected abstract create(): C;
  abstract render(out: string[]): void;

  protected each(): Iterable<{ values: string[]; child: C }> {
    return this.#children.values();
  }

  /** A counter's or gauge's lines: one sample per child. */
  protected renderValues(out: string[], kind: 'counter' | 'gauge', value: (child: C) => number): void {
    header(out, this.name, this.help, kind);
    for (const { values, child } of this.each()) out.push(`${this.name}${labelText(this.labelNames, values)} ${formatValue(value(child))}`);
  }
}

export interface CounterChild {
  inc(n?: number): void;
  readonly value: number;
}

export class Counter extends Labelled<CounterChild> {
  protected create(): CounterChild {
    let value = 0;
    return {
      inc(n = 1) {
        if (!(n >= 0)) throw new Error('a counter only goes up');
        value += n;
      },
      get value() {
        return value;
      },
    };
  }

  render(out: string[]): void {
    this.renderValues(out, 'counter', (c) => c.value);
  }
}

export interface GaugeChild {
  set(v: number): void;
  inc(n?: number): void;
  dec(n?: number): void;
  readonly value: number;
}

export class Gauge extends Labelled<GaugeChild> {
  protected create(): GaugeChild {
    let value = 0;
    return {
      set(v) {
        value = v;
      },
      inc(n = 1) {
        value += n;
      },
      dec(n = 1) {
        value -= n;
      },
      get value() {
        return value;
      },
    };
  }

  render(out: string[]): void {
    this.renderValues(out, 'gauge', (c) => c.value);
  }
}

export interface HistogramChild {
  observe(v: number): void;
}

interface HistogramState extends HistogramChild {
  /** Count per bucket (not cumulative); the last is +Inf. */
  readonly counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Labelled<HistogramChild> {
  readonly #bounds: readonly number[];

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    super(name, help, labelNames);
    for (let i = 1; i < buckets.length; i++) if (!(buckets[i]! > buckets[i - 1]!)) throw new Error(`${name}: buckets must increase`);
    this.#bounds = buckets.filter((b) => b !== Infinity);
  }

  protected create(): HistogramChild {
    const bounds = this.#bounds;
    const state: HistogramState = {
      counts: new Array<number>(bounds.length + 1).fill(0),
      sum: 0,
      count: 0,
      observe(v: number) {
        let i = 0;
        while (i < bounds.length && v > bounds[i]!) i++;
        state.counts[i]! += 1;
        state.sum += v;
        state.count += 1;
      },
    };
    return state;
  }

  render(out: string[]): void {
    header(out, this.name, this.help, 'histogram');
    for (const { values, child } of this.each()) {
      const s = child as HistogramState;
      let cumulative = 0;
      this.#bounds.forEach((b, i) => {
        cumulative += s.counts[i]!;
        out.push(`${this.name}_bucket${labelText(this.labelNames, values, `le="${formatValue(b)}"`)} ${cumulative}`);
      });
      out.push(`${this.name}_bucket${labelText(this.labelNames, values, 'le="+Inf"')} ${s.count}`);
      out.push(`${this.name}_sum${labelText(this.labelNames, values)} ${formatValue(s.sum)}`);
      out.push(`${this.name}_count${labelText(this.labelNames, values)} ${s.count}`);
    }
  }
}

/** Families, rendered in registration order; `beforeRender` hooks refresh values read on demand (memory, CPU). */
export class Registry {
  readonly #families: Family[] = [];
  readonly #names = new Set<string>();
  readonly #hooks: (() => void)[] = [];

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.#add(new Counter(name, help, labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.#add(new Gauge(name, help, labelNames));
  }

  histogram(name: string, help: string, buckets: readonly number[], labelNames: readonly string[] = []): Histogram {
    return this.#add(new Histogram(name, help, labelNames, buckets));
  }

  beforeRender(hook: () => void): void {
    this.#hooks.push(hook);
  }

  /** The exposition text, ending with a newline. */
  render(): string {
    for (const hook of this.#hooks) hook();
    const out: string[] = [];
    for (const f of this.#families) f.render(out);
    return out.join('\n') + '\n';
  }

  #add<F extends Family>(f: F): F {
    if (this.#names.has(f.name)) throw new Error(`metric ${f.name} is registered twice`);
    this.#names.add(f.name);
    this.#families.push(f);
    return f;
  }
}

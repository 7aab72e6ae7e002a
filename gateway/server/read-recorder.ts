/**
 * Appends `audit.read` records for privileged reads (privileged-reads.ts), once per distinct read: the same
 * caller reading the same thing again within {@link REPEAT_WINDOW_MS} is not recorded again. Without this, an
 * admin who leaves `hoop approve`'s picker open (it reloads pending reviews every 3 s) would append 1,200
 * identical records an hour. A read that differs in anything the record says (another filter, another review
 * among those returned, another count) is recorded at once.
 */
/** How long an identical read by the same caller is covered by its first record. */
export const REPEAT_WINDOW_MS = 10 * 60_000;

export class ReadRecorder {
  /** Per caller and kind of read, the last record written and when. */
  readonly #last = new Map<string, { text: string; at: number }>();

  constructor(
    private readonly append: (actor: string, data: Record<string, unknown>) => Promise<void>,
    private readonly now: () => Date,
  ) {}

  /** Records `data` (unless it repeats), resolving once it is written; rejects when it cannot be. */
  async record(actor: string, data: Record<string, unknown> | null): Promise<void> {
    if (!data) return;
    const key = `${actor}\u0000${String(data.what)}`;
    const text = JSON.stringify(data);
    const at = this.now().getTime();
    const last = this.#last.get(key);
    if (last && last.text === text && at - last.at >= 0 && at - last.at < REPEAT_WINDOW_MS) return;
    await this.append(actor, data);
    this.#last.set(key, { text, at });
  }
}

/**
 * Times shown to people, one format for the whole CLI: UTC, as `HH:MM:SSZ`. UTC because everything else hoop
 * shows is UTC (`--json`, `hoop sessions`, `hoop audit`, the gateway's logs), so a time on the screen can be
 * matched against them without converting; a local 12-hour clock could not be.
 */

/**
 * `04:13:44Z`, or `2026-01-02 04:13:44Z` when the day (UTC) is not today's, as for a grant that ends after
 * midnight. `--json` keeps ISO-8601 and does not use this.
 */
export function clockTime(at: string | number | Date, now: Date): string {
  const iso = new Date(at).toISOString();
  const time = `${iso.slice(11, 19)}Z`;
  const day = iso.slice(0, 10);
  return day === now.toISOString().slice(0, 10) ? time : `${day} ${time}`;
}

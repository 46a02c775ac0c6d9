/** A one-line progress bar on stderr when it is a terminal; silent otherwise (logs stay clean). */
export class Progress {
  private readonly total: number;
  private readonly enabled: boolean;
  private last = 0;
  constructor(total: number, enabled = process.stderr.isTTY === true) {
    this.total = total;
    this.enabled = enabled && total > 1;
  }
  update(done: number, counts: Record<string, number>): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (done < this.total && now - this.last < 100) return;
    this.last = now;
    const width = 30;
    const filled = Math.round((done / this.total) * width);
    const tail = Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ');
    process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${this.total}  ${tail}\x1b[K`);
  }
  /** Prefix for a message line so it does not run into the bar. */
  clearLine(): string {
    return this.enabled ? '\r\x1b[K' : '';
  }
  done(): void {
    if (this.enabled) process.stderr.write('\n');
  }
}

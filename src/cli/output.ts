import pc from 'picocolors';

/** Colour functions: real ones when stdout is a terminal and NO_COLOR is unset, identity otherwise. */
export type Colors = ReturnType<typeof pc.createColors>;

export function wantColor(json: boolean, stream: NodeJS.WriteStream = process.stdout): boolean {
  if (json || !stream.isTTY) return false;
  const noColor = process.env.NO_COLOR;
  return noColor === undefined || noColor === '';
}

export function colors(enabled: boolean): Colors {
  return pc.createColors(enabled);
}

export interface Column<R> {
  header: string;
  value: (row: R) => string;
  /** Cells longer than this are cut with an ellipsis. Default 60. */
  max?: number;
  align?: 'left' | 'right';
  /** Colours a cell after padding, so widths stay right. */
  color?: (text: string, row: R) => string;
}

/** Formats rows as an aligned text table (header, then one line per row). */
export function table<R>(rows: readonly R[], columns: readonly Column<R>[], c: Colors): string {
  const cells = rows.map((r) => columns.map((col) => cut(oneLine(col.value(r)), col.max ?? 60)));
  const widths = columns.map((col, i) => Math.max(col.header.length, ...cells.map((row) => row[i]!.length)));
  const pad = (text: string, i: number) =>
    columns[i]!.align === 'right' ? text.padStart(widths[i]!) : text.padEnd(widths[i]!);
  const lines = [
    c.bold(columns.map((col, i) => pad(col.header, i)).join('  ')).trimEnd(),
    ...cells.map((row, r) =>
      row
        .map((text, i) => {
          const padded = pad(text, i);
          const color = columns[i]!.color;
          return color ? color(padded, rows[r]!) : padded;
        })
        .join('  ')
        .trimEnd(),
    ),
  ];
  return lines.join('\n');
}

/** `key: value` lines with the keys aligned. */
export function fields(entries: readonly [string, string][], c: Colors): string {
  const width = Math.max(0, ...entries.map(([k]) => k.length));
  return entries.map(([k, v]) => `${c.dim((k + ':').padEnd(width + 1))} ${v}`).join('\n');
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}

function cut(text: string, max: number): string {
  return text.length > max ? text.slice(0, max - 1) + '…' : text;
}

export function date(d: Date | null | undefined): string {
  return d ? d.toISOString().replace(/\.\d{3}Z$/, 'Z') : '-';
}

/** A short human duration: 850ms, 12s, 4m 10s, 3h 2m, 2d 5h. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/**
 * A progress bar on stderr, drawn only when stderr is a terminal (and not in --json mode); otherwise every
 * call is a no-op, so piped output and scripts never see it.
 */
export class Progress {
  private done = 0;
  private lastDraw = 0;
  private readonly enabled: boolean;

  constructor(
    private readonly label: string,
    private total: number,
    json: boolean,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.enabled = !json && stream.isTTY === true;
  }

  add(n: number): void {
    this.done += n;
    if (this.done > this.total) this.total = this.done;
    const now = Date.now();
    if (now - this.lastDraw >= 80) {
      this.lastDraw = now;
      this.draw();
    }
  }

  finish(): void {
    if (!this.enabled) return;
    this.draw();
    this.stream.write('\n');
  }

  private draw(): void {
    if (!this.enabled) return;
    const width = 30;
    const ratio = this.total === 0 ? 1 : Math.min(1, this.done / this.total);
    const filled = Math.round(ratio * width);
    const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
    this.stream.write(`\r${this.label} ${bar} ${this.done}/${this.total} ${Math.floor(ratio * 100)}%`);
  }
}

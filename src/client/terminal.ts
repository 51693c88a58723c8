/** Where the client writes: stdout for results, stderr for progress; whether stderr is a terminal. */
export interface Terminal {
  out(text: string): void;
  err(text: string): void;
  /** Live lines (carriage returns) only on a terminal; plain lines otherwise. */
  tty: boolean;
}

/** The process's terminal. */
export const processTerminal: Terminal = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  tty: process.stderr.isTTY === true,
};

/** An upload progress bar on stderr (only on a terminal). */
export function progressBar(term: Terminal): { update: (sent: number, total: number) => void; done: () => void } {
  let last = -1;
  return {
    update: (sent, total) => {
      if (!term.tty) return;
      const pct = total ? Math.floor((sent / total) * 100) : 100;
      if (pct === last) return;
      last = pct;
      const width = 30;
      const full = Math.round((pct / 100) * width);
      term.err(`\r[${'#'.repeat(full)}${' '.repeat(width - full)}] ${String(pct).padStart(3)}% ${human(sent)}/${human(total)}`);
    },
    done: () => {
      if (term.tty && last >= 0) term.err('\n');
    },
  };
}

/** A status line that rewrites itself on a terminal and prints changes only elsewhere. */
export function statusLine(term: Terminal): { update: (text: string) => void; done: () => void } {
  let last = '';
  return {
    update: (text) => {
      if (text === last) return;
      last = text;
      term.err(term.tty ? `\r\x1b[2K${text}` : `${text}\n`);
    },
    done: () => {
      if (term.tty && last) term.err('\n');
    },
  };
}

function human(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}

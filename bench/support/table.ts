// A Markdown table padded to its widest cells, so it reads in a terminal as well as in docs.

/** Columns whose index is in `left` are left-aligned, the others (figures) right-aligned. */
export function markdownTable(head: string[], rows: string[][], left: number[] = [0]): string {
  const isLeft = (i: number) => left.includes(i);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (isLeft(i) ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => `${'-'.repeat(w + 1)}${isLeft(i) ? '-' : ':'}`).join('|')}|`;
  return [line(head), rule, ...rows.map(line)].join('\n');
}

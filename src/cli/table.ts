/**
 * Renders rows as a plain-text table with a header, columns padded to their widest cell and
 * separated by two spaces. Empty cells show as `-`.
 */
export function renderTable(
  headers: readonly string[],
  rows: readonly (readonly (string | number | undefined | null)[])[],
): string {
  const cells = rows.map((row) =>
    headers.map((_, i) => {
      const value = row[i];
      return value === undefined || value === null || value === "" ? "-" : String(value);
    }),
  );
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...cells.map((row) => (row[i] as string).length)),
  );
  const line = (row: readonly string[]) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] as number)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...cells.map(line)].join("\n");
}

/** A timestamp in ISO 8601, or `-`. */
export function isoTime(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? "-" : new Date(ms).toISOString();
}

/** `n thing` or `n things`. */
export function plural(n: number, thing: string, things = `${thing}s`): string {
  return `${n} ${n === 1 ? thing : things}`;
}

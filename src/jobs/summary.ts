/** How many bytes of a result or error text the public summary shows. */
export const SUMMARY_BYTES = 80;

/**
 * The public summary: the first 80 bytes (fewer if the text is shorter), as valid UTF-8.
 * A multi-byte character cut at the end is dropped; invalid bytes become U+FFFD.
 */
export function summarize(head: Buffer): string {
  const bytes = head.subarray(0, SUMMARY_BYTES);
  let end = bytes.length;
  let i = end - 1;
  let continuation = 0;
  while (i >= 0 && continuation < 3 && ((bytes[i] as number) & 0xc0) === 0x80) {
    i--;
    continuation++;
  }
  if (i >= 0) {
    const lead = bytes[i] as number;
    const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (need > 1 && need > continuation + 1) end = i;
  }
  return new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, end));
}

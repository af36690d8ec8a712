import type { QueueTables } from '../sql.js';

/**
 * Body of a CTE that locks the group rows of the jobs listed in CTE `source` (a `group_key` column), in
 * byte order of the key. Every statement that touches several groups takes their rows in this one order
 * (inserts sort their rows the same way, see compareGroupKeys), so statements cannot deadlock on them.
 * Job rows are locked before group rows. The mode is FOR NO KEY UPDATE, what the group triggers' own
 * updates take: it does not conflict with the KEY SHARE lock an enqueue in progress holds on its group.
 */
export function lockGroupsSql(t: QueueTables, source: string): string {
  // One primary-key probe per key, in key order (the lateral runs once per outer row, in the outer
  // order). Written as a join, a plan made without knowing how many keys there are (a generic plan)
  // could read and hash every group of the queue on each call.
  return `SELECT g.group_key FROM (
      SELECT s.group_key FROM ${source} s WHERE s.group_key IS NOT NULL
      GROUP BY s.group_key ORDER BY s.group_key COLLATE "C"
    ) k CROSS JOIN LATERAL (
      SELECT g.group_key FROM ${t.groups} g WHERE g.group_key = k.group_key FOR NO KEY UPDATE OF g
    ) g`;
}

/** Code-point order, which is the byte order of UTF-8 and so matches `COLLATE "C"`. */
export function compareGroupKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.codePointAt(i)!;
    const cb = b.codePointAt(i)!;
    if (ca !== cb) return ca - cb;
    if (ca > 0xffff) i++;
  }
  return a.length - b.length;
}

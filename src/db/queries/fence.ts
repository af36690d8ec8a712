/**
 * "Still leased", for fenced writes: `leased_until IS NOT NULL`, written as a function call on purpose.
 * The planner can then never answer it from the partial leased index. Statistics taken while nothing was
 * leased make that index look empty, and the planner would walk every leased row for each id instead of
 * taking the one row the primary key gives.
 */
export function held(alias: string): string {
  return `num_nulls(${alias}.leased_until) = 0`;
}

/** The fence every write after a claim carries: `$1` is the job id, `$2` the attempt it was claimed at. */
export const FENCE = `j.id = $1 AND j.attempts = $2 AND ${held('j')}`;

/** The same fence against a row `u` of (id, attempts) pairs, for bulk writes. */
export function fencedBy(alias: string, u: string): string {
  return `${alias}.id = ${u}.id AND ${alias}.attempts = ${u}.attempts AND ${held(alias)}`;
}

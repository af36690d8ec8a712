import type { ValidationError } from '../errors.js';

// The library names a bad value after its own call shape (`options.runAt`, `options.filter.groupKey`); a
// CLI user typed a flag (`--run-at`, `--group`) or an argument (`<id>`). These turn one into the other.

/** Fields whose flag is not the field in kebab case, and positional arguments. */
const SPECIAL: Readonly<Record<string, string>> = {
  groupKey: '--group',
  parentId: '--parent',
  delayMs: '--delay',
  dedup: '--dedup-key',
  'dedup.key': '--dedup-key',
  'dedup.mode': '--dedup-mode',
  dedupKey: '--dedup-key',
  id: '<id>',
  ids: '<ids>',
  queue: '<queue>',
  name: '<name>',
  payload: '<payload>',
  connectionString: '--database-url',
  schema: '--schema',
  'retention.historyMaxAgeMs': '--history-max-age',
  'retention.historyMaxCount': '--history-max-count',
  'retention.deadLetterMaxAgeMs': '--dead-letter-max-age',
  'retention.deadLetterMaxCount': '--dead-letter-max-count',
  'retention.statsMaxAgeMs': '--stats-max-age',
  'limits.maxInFlight': '--max-in-flight',
  'limits.rate.perSecond': '--rate',
  'limits.rate.burst': '--burst',
  'limits.rate.cost': '--cost',
  'limits.rate': '--rate',
  'limits.weight': '--weight',
  'limits.perKey': '--per-key',
  'limits.perKey.maxInFlight': '--key-max-in-flight',
  'limits.perKey.rate.perSecond': '--key-rate',
  'limits.perKey.rate.burst': '--key-burst',
  'limits.perKey.rate.cost': '--key-cost',
  'limits.perKey.rate': '--key-rate',
  key: '<key>',
  bucketMinutes: '--bucket',
};

/** Prefixes of the library's option paths that a CLI user never sees. */
const PREFIX = /^(options\.filter\.|options\.|filter\.|page\.)/;

const kebab = (name: string): string => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/**
 * The flag (or `<argument>`) a library field came from: `options.runAt` → `--run-at`,
 * `options.filter.groupKey` → `--group`, `ids[2]` → `<ids>`. Options of a worker module's exports
 * (`options.queues.…`, `options.cron…`) keep their path: they are not flags.
 */
export function flagFor(field: string): string {
  if (/^options\.(queues|cron)\b/.test(field)) return field.slice('options.'.length);
  const bare = field.replace(PREFIX, '').replace(/\[\d+\]$/, '');
  return SPECIAL[bare] ?? `--${kebab(bare)}`;
}

/** Option names written inside a library message ("give either delayMs or runAt"), as flags. */
function flagsInText(text: string): string {
  return text.replace(/\b[a-z]+[A-Z][A-Za-z]*\b/g, (word) =>
    word in SPECIAL ? SPECIAL[word]! : `--${kebab(word)}`,
  );
}

/** A ValidationError's message in the CLI's words: `--run-at: give either --delay or --run-at, not both (got …)`. */
export function cliValidationMessage(err: ValidationError): string {
  const rest = err.message.startsWith(`${err.field}: `)
    ? err.message.slice(err.field.length + 2)
    : err.message;
  // The value given (" (got …)") is the user's own text: only the problem before it is reworded.
  const at = rest.lastIndexOf(' (got ');
  const [problem, given] = at < 0 ? [rest, ''] : [rest.slice(0, at), rest.slice(at)];
  return `${flagFor(err.field)}: ${flagsInText(problem)}${given}`;
}

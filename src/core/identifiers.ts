import { InvalidIdentifierError } from '../errors.js';

const SCHEMA_RULE = /^[a-z_][a-z0-9_]{0,62}$/;
// Queue tables get suffixes (_groups, _results, _dlq, _id_seq, index names): 48 characters leave room
// within PostgreSQL's 63-byte identifier limit. No leading underscore: those names are internal.
const QUEUE_RULE = /^[a-z][a-z0-9_]{0,47}$/;

export function validateSchemaName(name: unknown, field = 'schema'): string {
  if (typeof name !== 'string' || !SCHEMA_RULE.test(name)) {
    throw new InvalidIdentifierError(field, name, SCHEMA_RULE.source);
  }
  return name;
}

export function validateQueueName(name: unknown, field = 'queue'): string {
  if (typeof name !== 'string' || !QUEUE_RULE.test(name)) {
    throw new InvalidIdentifierError(field, name, QUEUE_RULE.source);
  }
  return name;
}

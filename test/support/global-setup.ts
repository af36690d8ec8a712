import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/testing/embedded.js';
import { buildBundles } from './bundles.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}

let embedded: EmbeddedDatabase | undefined;

/** One database for the whole run: DATABASE_URL when set, otherwise an embedded PostgreSQL. */
export async function setup(project: TestProject): Promise<void> {
  await buildBundles();
  let url = process.env.DATABASE_URL;
  if (!url) {
    embedded = await startEmbeddedPostgres();
    url = embedded.connectionString;
    console.log(`[arbiter tests] embedded PostgreSQL at ${url.replace(/:[^:@/]*@/, ':***@')}`);
  } else {
    console.log(`[arbiter tests] using DATABASE_URL`);
  }
  project.provide('databaseUrl', url);
}

export async function teardown(): Promise<void> {
  await embedded?.stop();
}

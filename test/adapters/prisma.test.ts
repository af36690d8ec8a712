import { PrismaPg } from '@prisma/adapter-pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromPrisma } from '../../src/adapters/prisma.js';
import { ValidationError } from '../../src/index.js';
import { PrismaClient } from '../fixtures/prisma/generated/client.js';
import { databaseUrl, useTestDb } from '../support/db.js';
import { adapterScenarios, type InTransaction } from './scenarios.js';

// Prisma 7 with its TypeScript query compiler and the pg driver adapter: no query engine binary.
describe('Prisma adapter', () => {
  const t = useTestDb();
  let prisma: PrismaClient;
  beforeAll(() => {
    prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl(), max: 6 }) });
  });
  afterAll(() => prisma?.$disconnect());

  const inTx = (): InTransaction => (work) =>
    prisma.$transaction((tx) => work(fromPrisma(tx)), { timeout: 30_000, maxWait: 30_000 });
  adapterScenarios(t, inTx);

  it('refuses the PrismaClient itself', () => {
    expect(() => fromPrisma(prisma)).toThrow(ValidationError);
  });
});

import { ValidationError } from '../errors.js';
import type { JobRef } from '../types.js';
import { toJobId } from './ids.js';

/** A fenced reference: the job id and the attempt number the caller claimed it at. */
export interface Fence {
  id: string;
  attempts: number;
}

/** A caller's job reference as a fence, validated: a job id and the positive attempt it was claimed at. */
export function toFence(job: JobRef, field = 'job'): Fence {
  if (job === null || typeof job !== 'object')
    throw new ValidationError(field, job, 'must be a job (id and attempts)');
  const attempts = job.attempts;
  if (typeof attempts !== 'number' || !Number.isInteger(attempts) || attempts < 1) {
    throw new ValidationError(
      `${field}.attempts`,
      attempts,
      'must be the positive attempt number the job was claimed at',
    );
  }
  return { id: toJobId(job.id, `${field}.id`), attempts };
}

/** Error messages stored on jobs are cut to this many characters. */
export const MAX_ERROR_LENGTH = 64 * 1024;

/** An error message as stored on a job: without NUL, at most MAX_ERROR_LENGTH characters. */
export function truncateError(message: string): string {
  const clean = message.replaceAll('\u0000', '');
  return clean.length > MAX_ERROR_LENGTH ? clean.slice(0, MAX_ERROR_LENGTH - 1) + '…' : clean;
}

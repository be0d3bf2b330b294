import { randomBytes } from 'node:crypto';

/**
 * A run_id: the UTC start time as `YYYYMMDDTHHMMSSZ` (the seed's format) plus `-` and 6 random
 * base-36 characters, e.g. `20261121T081502Z-k3v9qa`, unique under concurrent runs and sortable
 * by time.
 */
export function newRunId(now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const bytes = randomBytes(6);
  let suffix = '';
  for (const b of bytes) suffix += (b % 36).toString(36);
  return `${stamp}-${suffix}`;
}

/** Whether a string is a run_id produced by {@link newRunId}. */
export function isRunId(text: string): boolean {
  return /^\d{8}T\d{6}Z-[a-z0-9]{6}$/.test(text);
}

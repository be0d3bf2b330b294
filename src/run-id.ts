import { randomBytes } from 'node:crypto';

/** Random base-36 characters after the time stamp of a run_id. */
export const RUN_ID_RANDOM_CHARS = 10;

function randomBase36(): string {
  for (;;) {
    const b = randomBytes(1)[0]!;
    if (b < 252) return (b % 36).toString(36);
  }
}

/**
 * A run_id: the UTC start time as `YYYYMMDDTHHMMSSZ` (the seed's format) plus `-` and 10 random
 * base-36 characters (about 51 bits), e.g. `20261121T081502Z-k3v9qa7m2x`, unique under concurrent
 * runs (10,000 ids in one second collide with odds near 1e-8; the 6 characters used before
 * collided about once in 45 such draws) and sortable by time. Run ids of 6 characters, from
 * lakes written before, are still recognised.
 */
export function newRunId(now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const bytes = randomBytes(RUN_ID_RANDOM_CHARS);
  let suffix = '';
  // 252 = 7 x 36: bytes above it are redrawn, so every character is uniform (no modulo bias).
  for (const b of bytes) suffix += b < 252 ? (b % 36).toString(36) : randomBase36();
  return `${stamp}-${suffix}`;
}

/** Whether a string is a run_id produced by {@link newRunId}. */
export function isRunId(text: string): boolean {
  return /^\d{8}T\d{6}Z-(?:[a-z0-9]{6}|[a-z0-9]{10})$/.test(text);
}

import { createRequire } from 'node:module';
import type * as ZstdNapi from 'zstd-napi';

/**
 * Zstandard (RFC 8878) for the lake's Parquet pages, through zstd-napi (the reference C library
 * as a Node-API addon: works in worker threads). Loaded on first use only, so that commands that
 * never touch Parquet (`watt --help`, `watt predict`) do not load the addon.
 */

/** Compression level of Parquet pages: level 1 compresses 64-hex pseudonym dictionaries to ~0.50 at ~360 MB/s (docs/benchmarks.md). */
export const ZSTD_LEVEL = 1;

let addon: typeof ZstdNapi | undefined;

function zstd(): typeof ZstdNapi {
  addon ??= createRequire(import.meta.url)('zstd-napi') as typeof ZstdNapi;
  return addon;
}

/** A reusable compressor (one native context): `compress(bytes)` returns one Zstandard frame with its content size. */
export function zstdCompressor(level = ZSTD_LEVEL): { compress(data: Uint8Array): Uint8Array } {
  const compressor = new (zstd().Compressor)();
  compressor.setParameters({ compressionLevel: level });
  return compressor;
}

/**
 * Decompress one Zstandard page (hyparquet's `compressors.ZSTD` signature).
 * @throws Error if the data is not Zstandard or its size differs from `outputLength`
 */
export function zstdDecompress(input: Uint8Array, outputLength: number): Uint8Array {
  const out = zstd().decompress(input);
  if (out.length !== outputLength) throw new Error(`corrupt Parquet page: Zstandard gave ${out.length} bytes, the page header says ${outputLength}`);
  return out;
}

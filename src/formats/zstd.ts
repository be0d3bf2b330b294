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

/** The part of zstd-napi's low-level binding (binding.d.ts) used here. */
interface ZstdBinding {
  CCtx: new () => { compress(dst: Uint8Array, src: Uint8Array, level: number): number };
  compressBound(size: number): number;
}

let context: { cctx: InstanceType<ZstdBinding['CCtx']>; compressBound: (size: number) => number; out: Buffer } | undefined;

/**
 * Compress one page as a Zstandard frame (with its content size) at {@link ZSTD_LEVEL}, through
 * one native context per thread and one reused output buffer: no allocation per page. The
 * result is a view of that buffer, valid until the next call (copy it before).
 */
export function zstdCompressPage(page: Uint8Array): Uint8Array {
  if (!context) {
    const binding = createRequire(import.meta.url)('zstd-napi/binding') as ZstdBinding;
    context = { cctx: new binding.CCtx(), compressBound: binding.compressBound, out: Buffer.allocUnsafeSlow(0) };
  }
  const bound = context.compressBound(page.length);
  if (context.out.length < bound) context.out = Buffer.allocUnsafeSlow(Math.max(bound, 1 << 20));
  const n = context.cctx.compress(context.out, page, ZSTD_LEVEL);
  return context.out.subarray(0, n);
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

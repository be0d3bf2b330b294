import { createRequire } from 'node:module';

/**
 * hyparquet's decompressors for the tests' independent reads of Parquet objects: Zstandard by
 * the reference C library (zstd-napi), not through watt's code. hyparquet decodes Snappy itself.
 */
const { decompress } = createRequire(import.meta.url)('zstd-napi') as { decompress: (data: Uint8Array) => Uint8Array };
export const compressors = { ZSTD: (input: Uint8Array) => decompress(input) };

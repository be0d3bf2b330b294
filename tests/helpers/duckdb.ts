import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

/**
 * An in-memory DuckDB (the analyst's reader, independent of watt's code) shared by the tests of
 * one file: opened in `beforeAll` with the session time zone set to UTC, closed in `afterAll`.
 * @returns `rows(sql)`: result rows as objects, BIGINT as number; `types(relation)`: column
 * name -> DuckDB type of a relation (e.g. `read_parquet('...')`).
 */
export function useDuckDb(): { rows: (sql: string) => Promise<Record<string, unknown>[]>; types: (relation: string) => Promise<Record<string, string>> } {
  let instance: DuckDBInstance | undefined;
  let db: DuckDBConnection | undefined;
  beforeAll(async () => {
    instance = await DuckDBInstance.create(':memory:');
    db = await instance.connect();
    await db.run("SET TimeZone = 'UTC'");
  });
  afterAll(() => {
    db?.closeSync();
    instance?.closeSync();
  });
  const rows = async (sql: string) =>
    (await db!.runAndReadAll(sql)).getRowObjects().map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])));
  const types = async (relation: string) => Object.fromEntries((await rows(`DESCRIBE SELECT * FROM ${relation}`)).map((r) => [r.column_name as string, r.column_type as string]));
  return { rows, types };
}

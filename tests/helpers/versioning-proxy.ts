/**
 * S3 bucket versioning in front of s3rver, which does not implement it (501 NotImplemented on
 * `?versioning`; no machine-local S3 server with versioning is installable here). An HTTP proxy on
 * 127.0.0.1 forwards every request to s3rver (which keeps the current bytes) and keeps, per key,
 * the version history S3 would keep (S3 User Guide, "How S3 Versioning works"): each successful
 * PUT adds a version (the newest is latest), each delete without a version id adds a delete marker.
 * It answers GetBucketVersioning, ListObjectVersions and DeleteObjects entries carrying a
 * VersionId itself. A stand-in for a store feature the test servers lack; the bytes stay real.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';

export interface Version {
  id: string;
  marker: boolean;
}

export interface VersioningProxy {
  endpoint: string;
  /** Version history per key (oldest first); a key with none was never written through the proxy. */
  versions: Map<string, Version[]>;
  /** `Enabled`, `Suspended`, or `denied` (GetBucketVersioning answers 403). */
  status: 'Enabled' | 'Suspended' | 'denied';
  /** Version ids deleted with a VersionId (what watt asked for). */
  deletedVersions: string[];
  stop(): Promise<void>;
}

const xml = (body: string) => `<?xml version="1.0" encoding="UTF-8"?>\n${body}`;
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const unesc = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

export async function startVersioningProxy(target: string, bucket: string): Promise<VersioningProxy> {
  const to = new URL(target);
  const state: VersioningProxy = { endpoint: '', versions: new Map(), status: 'Enabled', deletedVersions: [], stop: async () => {} };
  const addVersion = (key: string, marker: boolean) => {
    const list = state.versions.get(key) ?? [];
    list.push({ id: randomBytes(8).toString('hex'), marker });
    state.versions.set(key, list);
  };
  const removeVersion = (key: string, id: string): boolean => {
    const list = state.versions.get(key);
    const i = list?.findIndex((v) => v.id === id) ?? -1;
    if (!list || i < 0) return false;
    list.splice(i, 1);
    state.deletedVersions.push(id);
    return true;
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const key = parts.slice(1).join('/');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.method === 'GET' && parts.length === 1 && url.searchParams.has('versioning')) {
        if (state.status === 'denied') {
          res.writeHead(403, { 'content-type': 'application/xml' }).end(xml('<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>'));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/xml' }).end(xml(`<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>${state.status}</Status></VersioningConfiguration>`));
        return;
      }
      if (req.method === 'GET' && parts.length === 1 && url.searchParams.has('versions')) {
        const prefix = url.searchParams.get('prefix') ?? '';
        let items = '';
        for (const [k, list] of [...state.versions].sort(([a], [b]) => a.localeCompare(b))) {
          if (!k.startsWith(prefix)) continue;
          list.forEach((v, i) => {
            const latest = i === list.length - 1;
            items += v.marker
              ? `<DeleteMarker><Key>${esc(k)}</Key><VersionId>${v.id}</VersionId><IsLatest>${latest}</IsLatest><LastModified>2026-01-01T00:00:00.000Z</LastModified></DeleteMarker>`
              : `<Version><Key>${esc(k)}</Key><VersionId>${v.id}</VersionId><IsLatest>${latest}</IsLatest><LastModified>2026-01-01T00:00:00.000Z</LastModified><Size>1</Size><ETag>"x"</ETag><StorageClass>STANDARD</StorageClass></Version>`;
          });
        }
        res.writeHead(200, { 'content-type': 'application/xml' }).end(xml(`<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${bucket}</Name><Prefix>${esc(prefix)}</Prefix><IsTruncated>false</IsTruncated>${items}</ListVersionsResult>`));
        return;
      }
      if (req.method === 'POST' && parts.length === 1 && url.searchParams.has('delete')) {
        const entries = [...body.toString('utf8').matchAll(/<Object>\s*<Key>([^<]*)<\/Key>\s*(?:<VersionId>([^<]*)<\/VersionId>)?\s*<\/Object>/g)].map((m) => ({ key: unesc(m[1]!), versionId: m[2] }));
        if (entries.length && entries.every((e) => e.versionId)) {
          const deleted = entries.map((e) => {
            removeVersion(e.key, e.versionId!);
            return `<Deleted><Key>${esc(e.key)}</Key><VersionId>${e.versionId}</VersionId></Deleted>`;
          });
          res.writeHead(200, { 'content-type': 'application/xml' }).end(xml(`<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${deleted.join('')}</DeleteResult>`));
          return;
        }
        forward(req, body, res, (status) => {
          if (status === 200) for (const e of entries) if (state.versions.has(e.key)) addVersion(e.key, true);
        });
        return;
      }
      forward(req, body, res, (status) => {
        if (parts.length < 2 || status >= 300) return;
        if (req.method === 'PUT' && !url.searchParams.has('partNumber')) addVersion(key, false);
        if (req.method === 'POST' && url.searchParams.has('uploadId')) addVersion(key, false); // CompleteMultipartUpload
        if (req.method === 'DELETE' && !url.searchParams.has('uploadId') && state.versions.has(key)) addVersion(key, true);
      });
    });
  });
  function forward(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse, done: (status: number) => void): void {
    const out = http.request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: { ...req.headers, host: to.host } }, (r) => {
      done(r.statusCode ?? 500);
      res.writeHead(r.statusCode ?? 500, r.headers);
      r.pipe(res);
    });
    out.on('error', () => res.destroy());
    out.end(body);
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.stop = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}

/**
 * Fault injection at the file system call, for causes a test cannot make for real (EACCES as
 * root, EDQUOT without quotas): preloaded with `node --import`, it makes the calls that create or
 * write files fail with `WATT_FS_FAULT_CODE` (e.g. EDQUOT) when their path starts with
 * `WATT_FS_FAULT_PATH`, exactly as the kernel would report it (code, errno, syscall, path).
 */
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import os from 'node:os';

const code = process.env.WATT_FS_FAULT_CODE;
const prefix = process.env.WATT_FS_FAULT_PATH;
if (code && prefix) {
  const errno = os.constants.errno[code] ?? 1;
  const fault = (syscall, p) => Object.assign(new Error(`${code}: injected, ${syscall} '${p}'`), { code, errno: -errno, syscall, path: String(p) });
  const hit = (p) => typeof p === 'string' && p.startsWith(prefix);
  const writes = (flags) => flags !== undefined && flags !== 'r' && flags !== fs.constants.O_RDONLY;
  for (const name of ['mkdirSync', 'writeFileSync', 'appendFileSync']) {
    const orig = fs[name];
    fs[name] = function (p, ...rest) {
      if (hit(p)) throw fault(name.replace('Sync', '').replace('writeFile', 'open').replace('appendFile', 'open'), p);
      return orig.call(this, p, ...rest);
    };
  }
  const openSync = fs.openSync;
  fs.openSync = function (p, flags, ...rest) {
    if (hit(p) && writes(flags)) throw fault('open', p);
    return openSync.call(this, p, flags, ...rest);
  };
  for (const name of ['mkdir', 'writeFile', 'appendFile']) {
    const orig = fs.promises[name];
    fs.promises[name] = async function (p, ...rest) {
      if (hit(p)) throw fault(name === 'mkdir' ? 'mkdir' : 'open', p);
      return orig.call(this, p, ...rest);
    };
  }
  const open = fs.promises.open;
  fs.promises.open = async function (p, flags, ...rest) {
    if (hit(p) && writes(flags)) throw fault('open', p);
    return open.call(this, p, flags, ...rest);
  };
  const createWriteStream = fs.createWriteStream;
  fs.createWriteStream = function (p, ...rest) {
    if (hit(p)) {
      const s = createWriteStream.call(this, '/dev/null', ...rest);
      process.nextTick(() => s.destroy(fault('open', p)));
      return s;
    }
    return createWriteStream.call(this, p, ...rest);
  };
  syncBuiltinESMExports();
}

/**
 * Local folders in a job's runtime_env, uploaded as `ray job submit` uploads them: a `working_dir` (or a
 * `py_modules` entry) that is a folder on the editor's machine is zipped, named by its content
 * (`gcs://_ray_pkg_<sha1>.zip`; a local .zip, or a .whl in py_modules, goes as it is), uploaded to the cluster through the dashboard (`PUT /api/packages/gcs/<name>`,
 * skipped when `GET` finds it there already) and replaced by that URI in the request. URIs (`gcs://`, `s3://`,
 * `https://…`) pass through untouched.
 *
 * What goes in follows Ray's packaging (ray/_private/runtime_env/packaging.py): every file under the folder
 * except Ray's default excludes (`.git`, `.venv`, `venv`, `__pycache__`), what a `.gitignore` or `.rayignore`
 * in the folder or below ignores (matched with `ignore`, the gitignore implementation eslint and globby use),
 * and the runtime_env's own `excludes` (gitignore patterns relative to the folder). A working_dir's files sit
 * at the zip's root; a py_modules folder keeps its name as the top folder (so it imports by that name). Ray
 * keeps packages in its GCS, whose limit is 512 MiB; a bigger package is refused here with its largest files.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { zipSync, type Zippable } from 'fflate';
import ignore, { type Ignore } from 'ignore';
import type { JobDetails } from './client';
import { ClusterError } from './errors';

/** Ray's RAY_RUNTIME_ENV_DEFAULT_EXCLUDES (ray_constants.py). */
export const RAY_DEFAULT_EXCLUDES = ['.git', '.venv', 'venv', '__pycache__'];
/** Ray's GCS_STORAGE_MAX_SIZE (the gRPC message limit, 512 MiB). */
export const RAY_PACKAGE_MAX_BYTES = 512 * 1024 * 1024;

export interface Package {
  /** `gcs://_ray_pkg_<sha1 of the paths and contents>.zip` */
  uri: string;
  zip: Uint8Array;
  /** Paths inside the zip, sorted. */
  files: string[];
  /** The files' total size before compression. */
  bytes: number;
}

/** The uploads a client needs (RayJobsClient has them). */
export interface PackageStore {
  packageExists(uri: string): Promise<boolean>;
  uploadPackage(uri: string, zip: Uint8Array): Promise<void>;
}

/** A runtime_env value that names something remote: `scheme://…` (Ray's own test: the URI has a protocol). */
const isUri = (v: string): boolean => /^[a-z][a-z0-9+.-]*:\/\//i.test(v);

/**
 * Zips `folder` as Ray would for a working_dir (`topFolder` false) or a py_modules entry (true). Throws a
 * ClusterError ('bad-request') naming the folder when it is not a folder or the package is over Ray's limit.
 */
export function packFolder(folder: string, options: { excludes?: readonly string[]; topFolder?: boolean; maxBytes?: number } = {}): Package {
  const root = resolve(folder);
  let isDir = false;
  try {
    isDir = statSync(root).isDirectory();
  } catch {
    // reported below
  }
  if (!isDir) throw new ClusterError('bad-request', `runtime_env: ${folder} is not a folder on this machine (a local working_dir or py_modules entry is a folder or a .zip; anything remote is a URI such as gcs://, s3:// or https://…zip)`);
  const found: Array<{ rel: string; path: string; size: number }> = [];
  const emptyFolders: string[] = [];
  const seen = new Set<string>(); // real paths of the folders walked: a link back up is not followed twice
  const posixRelative = (from: string, to: string) => relative(from, to).split(sep).join('/');
  // Each rule set matches paths relative to its folder: the root's (Ray's defaults and `excludes`), then every
  // .gitignore / .rayignore on the way down.
  const walk = (dir: string, rules: Array<{ base: string; ig: Ignore }>) => {
    const real = realpathSync(dir);
    if (seen.has(real)) return;
    seen.add(real);
    const own = ignore();
    let hasOwn = false;
    for (const name of ['.gitignore', '.rayignore']) {
      try {
        own.add(readFileSync(join(dir, name), 'utf8'));
        hasOwn = true;
      } catch {
        // no such file
      }
    }
    const scoped = hasOwn ? [...rules, { base: dir, ig: own }] : rules;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (e) {
      throw new ClusterError('bad-request', `runtime_env: cannot read ${dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    // As Ray does, a folder with nothing in it at all is packed too (one whose files are all ignored is not).
    if (names.length === 0 && dir !== root) emptyFolders.push(posixRelative(root, dir));
    for (const name of names) {
      const path = join(dir, name);
      // Links are followed as Ray's zip does (it stores what they point at).
      let st;
      try {
        st = statSync(path);
      } catch {
        continue; // a dangling link
      }
      const isFolder = st.isDirectory();
      if (scoped.some((r) => r.ig.ignores(posixRelative(r.base, path) + (isFolder ? '/' : '')))) continue;
      if (isFolder) walk(path, scoped);
      else if (st.isFile()) found.push({ rel: posixRelative(root, path), path, size: st.size });
    }
  };
  walk(root, [{ base: root, ig: ignore().add([...RAY_DEFAULT_EXCLUDES, ...(options.excludes ?? [])]) }]);
  found.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  const bytes = found.reduce((s, f) => s + f.size, 0);
  const max = options.maxBytes ?? RAY_PACKAGE_MAX_BYTES;
  if (bytes >= max) {
    const largest = [...found].sort((a, b) => b.size - a.size).slice(0, 3).map((f) => `${f.rel} (${mib(f.size)})`);
    throw new ClusterError('bad-request', `runtime_env: ${folder} holds ${mib(bytes)} of files, over Ray's package limit of ${mib(max)}. The largest: ${largest.join(', ')}. Leave them out with "excludes" in the runtime_env, a .rayignore, or ship them another way (a path the cluster already has).`);
  }
  const prefix = options.topFolder ? `${basename(root)}/` : '';
  const hash = createHash('sha1');
  const tree: Zippable = {};
  for (const f of found) {
    const data = readFileSync(f.path);
    const name = prefix + f.rel;
    hash.update(`${name}\0${data.length}\0`).update(data);
    tree[name] = [data, { mtime: new Date(1980, 0, 1) }];
  }
  for (const rel of emptyFolders.sort()) {
    hash.update(`${prefix + rel}/\0`);
    tree[prefix + rel] = {};
  }
  return { uri: `gcs://_ray_pkg_${hash.digest('hex')}.zip`, zip: zipSync(tree, { level: 6 }), files: found.map((f) => prefix + f.rel), bytes };
}

/**
 * A local archive uploaded as it is, named as Ray names it: a wheel by its file name (already content-addressed
 * by name, version and tags), a .zip by the sha1 of its bytes.
 */
export function packFile(file: string, wheels: boolean): Package {
  const name = basename(file);
  if (!/\.zip$/i.test(name) && !(wheels && /\.whl$/i.test(name))) {
    throw new ClusterError('bad-request', `runtime_env: ${file} is a file; give a folder or a .zip${wheels ? ' or .whl' : ''} (anything remote as a URI)`);
  }
  const zip = readFileSync(file);
  const uri = /\.whl$/i.test(name) ? `gcs://${name}` : `gcs://_ray_pkg_${createHash('sha1').update(zip).digest('hex')}.zip`;
  return { uri, zip, files: [name], bytes: zip.length };
}

/**
 * The runtime_env with its local `working_dir` and `py_modules` folders uploaded and replaced by their URIs.
 * Relative folders are taken from `baseDir` (the run config file's folder). `say` hears one line per folder.
 */
export async function uploadLocalPackages(
  store: PackageStore,
  runtimeEnv: Record<string, unknown> | undefined,
  baseDir: string,
  say: (text: string) => void = () => {},
): Promise<Record<string, unknown> | undefined> {
  if (!runtimeEnv) return runtimeEnv;
  const excludes = runtimeEnv.excludes;
  if (excludes !== undefined && !(Array.isArray(excludes) && excludes.every((e) => typeof e === 'string'))) {
    throw new ClusterError('bad-request', 'runtime_env.excludes: expected a list of gitignore patterns (strings)');
  }
  const upload = async (value: string, field: string, topFolder: boolean): Promise<string> => {
    if (isUri(value)) return value;
    const folder = isAbsolute(value) ? value : resolve(baseDir, value);
    const pkg = isFile(folder) ? packFile(folder, topFolder) : packFolder(folder, { excludes: excludes as string[] | undefined, topFolder });
    if (await store.packageExists(pkg.uri)) {
      say(`runtime_env.${field}: ${folder} is on the cluster already (${pkg.uri})`);
    } else {
      say(`runtime_env.${field}: uploading ${folder} (${pkg.files.length} files, ${mib(pkg.bytes)}; ${mib(pkg.zip.length)} zipped) as ${pkg.uri}`);
      await store.uploadPackage(pkg.uri, pkg.zip);
    }
    return pkg.uri;
  };
  const out = { ...runtimeEnv };
  if (typeof out.working_dir === 'string') out.working_dir = await upload(out.working_dir, 'working_dir', false);
  else if (out.working_dir !== undefined) throw new ClusterError('bad-request', 'runtime_env.working_dir: expected a folder or a URI (a string)');
  if (out.py_modules !== undefined) {
    if (!Array.isArray(out.py_modules) || !out.py_modules.every((m) => typeof m === 'string')) {
      throw new ClusterError('bad-request', 'runtime_env.py_modules: expected a list of folders or URIs (strings)');
    }
    const modules: string[] = [];
    for (const m of out.py_modules as string[]) modules.push(await upload(m, 'py_modules', true));
    out.py_modules = modules;
  }
  return out;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function mib(n: number): string {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
}

/**
 * The runtime_env a resumed run's job gets again: the one Ray kept for the run's previous job (its local
 * folders already uploaded), with the gcs:// packages the cluster no longer holds — Ray drops a package once no
 * job has used it for a while — listed in `missing`.
 */
export async function previousRuntimeEnv(store: PackageStore, details: Pick<JobDetails, 'runtime_env'>): Promise<{ runtimeEnv?: Record<string, unknown>; missing: string[] }> {
  const env = details.runtime_env ?? undefined;
  if (!env) return { missing: [] };
  const uris = [env.working_dir, ...(Array.isArray(env.py_modules) ? env.py_modules : [])].filter((u): u is string => typeof u === 'string' && /^gcs:\/\//i.test(u));
  const missing: string[] = [];
  for (const uri of uris) if (!(await store.packageExists(uri))) missing.push(uri);
  return { runtimeEnv: { ...env }, missing };
}

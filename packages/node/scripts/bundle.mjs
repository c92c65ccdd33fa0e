// Bundles the two entry points used by code that does not run Effect itself, the Promise facade and
// the `scaleset` command, from the `tsc -b` output (run after it by `pnpm build`). Node 20's ESM
// loader costs per module file, and these load ~700 unbundled (effect, fast-check, jose, @effect/*):
// a fresh process spent ~0.9 s loading them, the bundle ~0.3 s. Effect users keep the unbundled
// modules: their app loads effect anyway, and Context tags must be the same instances as theirs.
import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

const dist = fileURLToPath(new URL("../dist/", import.meta.url))
const metaFile = `${dist}bundle/meta.json`

const builds = [
  { entryPoints: { facade: "facade.js" }, outdir: "bundle" },
  // code splitting: `simulate` imports the simulator on demand, so it gets its own file
  { entryPoints: { scaleset: "bin/scaleset.js" }, outdir: "bundle/cli", splitting: true, chunkNames: "[name]-[hash]" }
]

// esbuild-wasm takes seconds: skip when no input changed since the last bundle (tsc -b leaves
// unchanged outputs alone)
const upToDate = () => {
  if (!existsSync(metaFile)) return false
  const meta = JSON.parse(readFileSync(metaFile, "utf8"))
  const mtime = (file) => (existsSync(file) ? statSync(file).mtimeMs : Infinity)
  if (meta.outputs.some((file) => !existsSync(`${dist}${file}`))) return false
  const inputs = [...meta.inputs.map((file) => `${dist}${file}`), fileURLToPath(import.meta.url)]
  return inputs.every((file) => mtime(file) < meta.started)
}

if (upToDate()) process.exit(0)

const esbuild = await import("esbuild-wasm")
// built aside, then swapped in: a process starting meanwhile (a test, another build) never finds it half written
const tmp = `.bundle-${process.pid}`
const started = Date.now()
const inputs = new Set()
const outputs = []
try {
  for (const build of builds) {
    const result = await esbuild.build({
      ...build,
      outdir: build.outdir.replace(/^bundle/, tmp),
      absWorkingDir: dist,
      bundle: true,
      format: "esm",
      platform: "node",
      target: "node20",
      // undici stays a dependency, resolved at run time: the app may share it (dispatchers)
      external: ["undici"],
      legalComments: "none",
      logLevel: "warning",
      metafile: true
    })
    for (const file of Object.keys(result.metafile.inputs)) inputs.add(file)
    for (const file of Object.keys(result.metafile.outputs)) {
      // a CommonJS dependency requiring at run time would throw in an ESM bundle
      if (readFileSync(`${dist}${file}`, "utf8").includes("Dynamic require of")) {
        throw new Error(`${file}: a bundled dependency calls require(); make it external or add a createRequire banner`)
      }
      outputs.push(file.replace(tmp, "bundle"))
    }
  }
  writeFileSync(`${dist}${tmp}/meta.json`, JSON.stringify({ started, inputs: [...inputs], outputs }, null, 1))
  const old = `${dist}.bundle-old-${process.pid}`
  if (existsSync(`${dist}bundle`)) renameSync(`${dist}bundle`, old)
  try {
    renameSync(`${dist}${tmp}`, `${dist}bundle`)
  } catch (error) {
    // a concurrent build swapped its own in first: as fresh as this one
    if (!existsSync(`${dist}bundle`)) throw error
  }
  rmSync(old, { recursive: true, force: true })
} finally {
  await esbuild.stop()
  rmSync(`${dist}${tmp}`, { recursive: true, force: true })
}

/**
 * The single-file bundles (scripts/bundle.mjs, run by `pnpm build`) as users load them: the
 * Promise facade through the package export in a plain node process, and the command's simulator,
 * which the bundle loads on demand from its own chunk.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { type Simulator, startSimulator } from "@scaleset/testing"
import { execFile, spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

const packageDir = fileURLToPath(new URL("..", import.meta.url))
const facadeBundle = fileURLToPath(new URL("../dist/bundle/facade.js", import.meta.url))
const bin = fileURLToPath(new URL("../bin/scaleset.js", import.meta.url))

let sim: Simulator.SimulatorHandle
beforeAll(async () => {
  sim = await startSimulator()
})
afterAll(async () => {
  await sim.stop()
})

// runs in the package directory, so `@scaleset/node/facade` resolves through the package's own export
const script = `
import { Client, DEFAULT_RUNNER_GROUP, InvalidGitHubConfigURLError } from "@scaleset/node/facade"
const client = await Client.createWithPersonalAccessToken({ gitHubConfigURL: process.env.URL, personalAccessToken: process.env.PAT })
const group = await client.getRunnerGroupByName(DEFAULT_RUNNER_GROUP)
await client.close()
const invalid = await Client.createWithPersonalAccessToken({ gitHubConfigURL: "not a url", personalAccessToken: "x" }).catch((e) => e)
process.stdout.write(JSON.stringify({
  resolved: import.meta.resolve("@scaleset/node/facade"),
  group: { id: group.id, name: group.name },
  invalid: invalid instanceof InvalidGitHubConfigURLError
}))
`

const node = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  new Promise<string>((resolve, reject) =>
    execFile(process.execPath, args, { cwd: packageDir, env: { ...process.env, ...env } }, (error, stdout, stderr) =>
      error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)
    )
  )

describe("bundles", () => {
  it("the facade bundle: imported by its package export, one call against the simulator", async () => {
    const out = JSON.parse(await node(["--input-type=module", "-e", script], { URL: sim.url, PAT: sim.pat }))
    assert.strictEqual(fileURLToPath(out.resolved), facadeBundle)
    assert.deepStrictEqual(out.group, { id: 1, name: "default" })
    assert.isTrue(out.invalid, "errors are the bundle's own classes")
  })

  it("the facade bundle imports only node builtins and undici (effect, jose and our packages are inside)", () => {
    const imports = [...readFileSync(facadeBundle, "utf8").matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+"([^"]+)"/gm)].map((m) => m[1]!)
    assert.isNotEmpty(imports)
    assert.deepStrictEqual(imports.filter((i) => !i.startsWith("node:") && i !== "undici"), [])
  })

  it("scaleset simulate: the bundled command loads the simulator chunk and serves", async () => {
    const child = spawn(process.execPath, [bin, "simulate"], { stdio: ["ignore", "pipe", "pipe"] })
    try {
      const first = await new Promise<string>((resolve, reject) => {
        let stdout = ""
        let stderr = ""
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
        child.stdout.on("data", (d: Buffer) => {
          stdout += d.toString()
          if (stdout.includes("\n")) resolve(stdout.split("\n")[0]!)
        })
        child.on("exit", (code) => reject(new Error(`simulate exited ${code}: ${stderr}`)))
      })
      const { url, token } = JSON.parse(first) as { url: string; token: string }
      const out = JSON.parse(await node(["--input-type=module", "-e", script], { URL: url, PAT: token }))
      assert.deepStrictEqual(out.group, { id: 1, name: "default" })
    } finally {
      const exited = new Promise((resolve) => child.once("exit", resolve))
      if (child.exitCode === null) child.kill("SIGINT")
      await exited
    }
  })
})

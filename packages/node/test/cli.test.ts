/**
 * The `scaleset` command, run as a process through its committed entry point, i.e. the bundle
 * (`pnpm build` first, as `pnpm test` does).
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { type Simulator, startSimulator } from "@scaleset/testing"
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const bin = fileURLToPath(new URL("../bin/scaleset.js", import.meta.url))
const runnerBin = fileURLToPath(new URL("../../testing/dist/bin/runner.js", import.meta.url))

let sim: Simulator.SimulatorHandle
beforeAll(async () => {
  sim = await startSimulator({ longPollHold: 500 })
})
afterAll(async () => {
  await sim.stop()
})

interface Result {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const start = (args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
  const done = new Promise<Result>((resolve) => child.on("exit", (code) => resolve({ code, stdout, stderr })))
  return { child, done, stderr: () => stderr }
}

const cli = (args: ReadonlyArray<string>, env?: Record<string, string>) => start(args, env).done

const simEnv = () => ({ SCALESET_URL: sim.url, SCALESET_TOKEN: sim.pat })

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe("scaleset command", () => {
  it("bad flags: a clear message and exit code 2", async () => {
    const [notInteger, missing, noConfig, minMax] = await Promise.all([
      cli(["run", "--name", "x", "--exec", "true", "--max-runners", "many"]),
      cli(["run", "--name", "x"]),
      cli(["run", "--name", "x", "--exec", "true"]),
      cli(["run", "--name", "x", "--exec", "true", "--min-runners", "3", "--max-runners", "1"], simEnv())
    ])
    assert.strictEqual(notInteger.code, 2)
    assert.include(notInteger.stderr + notInteger.stdout, "'many' is not a integer")
    assert.strictEqual(missing.code, 2)
    assert.include(missing.stderr + missing.stdout, "--exec")
    assert.strictEqual(noConfig.code, 2)
    assert.include(noConfig.stderr, "SCALESET_URL is not set")
    assert.strictEqual(minMax.code, 2)
    assert.include(minMax.stderr, "--min-runners")
  })

  it("bad inputs: a message, exit code 2, no stack trace, nothing created", async () => {
    const dir = mkdtempSync(join(tmpdir(), "scaleset-cli-"))
    const badKey = join(dir, "key.pem")
    writeFileSync(badKey, "not a key")
    const runArgs = ["run", "--name", "bad-input-set", "--exec", "true"]
    const cases: ReadonlyArray<readonly [ReadonlyArray<string>, Record<string, string>, string]> = [
      [["run", "--name", "bad-input-set", "--exec", ""], simEnv(), "--exec"],
      [["run", "--name", "bad-input-set", "--exec", "  "], simEnv(), "--exec"],
      [[...runArgs, "--metrics-port", "-1"], simEnv(), "--metrics-port"],
      [[...runArgs, "--metrics-port", "70000"], simEnv(), "--metrics-port"],
      [["simulate", "--port", "99999"], {}, "--port"],
      [["simulate", "--long-poll-hold-seconds", "-5"], {}, "--long-poll-hold-seconds"],
      [[...runArgs, "--url", "github.com/my-org"], { SCALESET_TOKEN: "ghp_x" }, "github.com/my-org"],
      [["scale-sets", "get", "--id", "1", "--url", "https://github.com/a/b/c"], { SCALESET_TOKEN: "ghp_x" }, "3 segments"],
      [
        ["scale-sets", "get", "--id", "1", "--url", sim.url, "--app-client-id", "Iv1.x", "--app-installation-id", "1", "--app-private-key-file", badKey],
        {},
        "private key"
      ]
    ]
    const results = await Promise.all(cases.map(([args, env]) => cli(args, env)))
    results.forEach((result, i) => {
      const [args, , expected] = cases[i]!
      assert.strictEqual(result.code, 2, `${args.join(" ")}: ${result.stderr}${result.stdout}`)
      assert.include(result.stderr, expected, args.join(" "))
      assert.notMatch(result.stderr + result.stdout, /\n\s+at /, args.join(" "))
    })
    assert.isFalse(sim.scaleSets().some((s) => s.name === "bad-input-set"))
  })

  it("run: a metrics port in use is a clear error before the scale set is created", async () => {
    const busy = createServer()
    const port = await new Promise<number>((resolve) => busy.listen(0, () => resolve((busy.address() as AddressInfo).port)))
    try {
      const result = await cli(["run", "--name", "port-in-use-set", "--exec", "true", "--metrics-port", String(port)], simEnv())
      assert.strictEqual(result.code, 1, result.stderr)
      assert.include(result.stderr, `cannot serve metrics on port ${port}: the port is already in use`)
      assert.notMatch(result.stderr + result.stdout, /\n\s+at /)
      assert.isFalse(sim.scaleSets().some((s) => s.name === "port-in-use-set"))
    } finally {
      busy.close()
    }
  })

  it("run: logs once, on stderr (stdout stays empty); --log-level works after the subcommand", async () => {
    const runs = [
      start(["run", "--name", "log-set", "--owner", "log-host-1", "--min-runners", "1", "--max-runners", "1", "--exec", "sleep 30", "--log-level", "debug"], simEnv()),
      start(["run", "--name", "log-set-json", "--owner", "log-host-2", "--exec", "true", "--log-format", "json", "--delete-on-exit"], simEnv())
    ]
    try {
      await sim.waitFor((s) => ["log-host-1", "log-host-2"].every((o) => s.sessions.some((x) => x.ownerName === o)), 20_000, "both sessions")
      await sim.waitFor(() => sim.runners().some((r) => r.name.startsWith("log-set-")), 10_000, "a runner")
      // its process is started (and logged) right after it is registered
      await new Promise((resolve) => setTimeout(resolve, 1_000))
    } finally {
      for (const run of runs) run.child.kill("SIGTERM")
    }
    const [text, json] = await Promise.all(runs.map((r) => r.done))
    assert.strictEqual(text!.code, 0, text!.stderr)
    assert.strictEqual(text!.stdout, "")
    assert.strictEqual(text!.stderr.match(/message=listening/g)?.length, 1, text!.stderr)
    assert.match(text!.stderr, /level=DEBUG .*message="runner started"/, text!.stderr)
    assert.strictEqual(json!.code, 0, json!.stderr)
    assert.strictEqual(json!.stdout, "")
    const lines = json!.stderr.trim().split("\n")
    assert.isTrue(lines.some((l) => (JSON.parse(l) as { message?: unknown }).message === "listening"), json!.stderr)
  }, 40_000)

  it("scale-sets get and delete, runners remove", async () => {
    const id = sim.createScaleSet({ name: "from-cli" })
    const [got, missing, removed] = await Promise.all([
      cli(["scale-sets", "get", "--name", "from-cli"], simEnv()),
      cli(["scale-sets", "get", "--name", "nope"], simEnv()),
      cli(["runners", "remove", "--id", "424242"], simEnv())
    ])
    assert.strictEqual(got.code, 0, got.stderr)
    assert.strictEqual((JSON.parse(got.stdout) as { id: number }).id, id)
    assert.strictEqual(removed.code, 0, removed.stderr)
    assert.include(removed.stdout, "removed runner 424242")
    assert.strictEqual(missing.code, 1)
    assert.include(missing.stderr, "no scale set named \"nope\"")
    const deleted = await cli(["scale-sets", "delete", "--id", String(id), "--token", sim.pat, "--url", sim.url])
    assert.strictEqual(deleted.code, 0, deleted.stderr)
    assert.isFalse(sim.scaleSets().some((s) => s.id === id))
  })

  it("run: jobs complete with the simulated runner as --exec; SIGTERM leaves no session, runner or child", async () => {
    const dir = mkdtempSync(join(tmpdir(), "scaleset-cli-"))
    const pids = join(dir, "pids")
    const run = start(
      ["run", "--name", "cli-set", "--max-runners", "3", "--delete-on-exit", "--owner", "cli-host", "--state-file", join(dir, "state.json"), "--metrics-port", "0", "--exec", `echo $$ >> ${pids}; exec "${process.execPath}" "${runnerBin}"`],
      simEnv()
    )
    try {
      await sim.waitFor((s) => s.sessions.some((x) => x.ownerName === "cli-host"), 20_000, "the listener's session")
      sim.enqueueJobs({ count: 3, durationMs: 100, labels: ["cli-set"] })
      await sim.waitFor((s) => s.jobs.filter((j) => j.state === "completed").length >= 3, 25_000, "3 completed jobs")
      const metricsPort = /metrics on http:\/\/localhost:(\d+)\/metrics/.exec(run.stderr())?.[1]
      assert.isDefined(metricsPort, run.stderr())
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
      assert.match(metrics, /^gha_max_runners\{[^}]*name="cli-set"[^}]*\} 3$/m)
      assert.match(metrics, /^gha_completed_jobs_total\{[^}]*job_result="succeeded"[^}]*\} [1-9]/m)
    } finally {
      run.child.kill("SIGTERM")
    }
    const result = await run.done
    assert.strictEqual(result.code, 0, result.stderr)
    const snapshot = sim.snapshot()
    assert.isFalse(snapshot.sessions.some((s) => s.ownerName === "cli-host"))
    assert.isFalse(snapshot.scaleSets.some((s) => s.name === "cli-set"))
    assert.strictEqual(snapshot.runners.length, 0)
    const started = readFileSync(pids, "utf8").trim().split("\n").map(Number)
    assert.isAtLeast(started.length, 3)
    for (const pid of started) assert.isFalse(alive(pid), `runner process ${pid} still running`)
  })

  it("run: a failing runner command is logged (exit code, stderr tail, JIT config redacted) and restarted with a backoff", async () => {
    const dir = mkdtempSync(join(tmpdir(), "scaleset-cli-"))
    const starts = join(dir, "starts")
    const exec = `echo started >> ${starts}; echo "jit=$ACTIONS_RUNNER_INPUT_JITCONFIG" >&2; echo "runner broke" >&2; exit 3`
    const run = start(
      ["run", "--name", "failing-set", "--min-runners", "1", "--max-runners", "1", "--owner", "failing-host", "--delete-on-exit", "--state-file", join(dir, "state.json"), "--exec", exec],
      simEnv()
    )
    try {
      await sim.waitFor((s) => s.sessions.some((x) => x.ownerName === "failing-host"), 20_000, "the listener's session")
      // polls every 0.5 s: without a backoff, about 14 starts in 7 s; with it (1 s, 2 s, 4 s) 3 or 4
      await new Promise((resolve) => setTimeout(resolve, 7_000))
    } finally {
      run.child.kill("SIGTERM")
    }
    const result = await run.done
    const count = readFileSync(starts, "utf8").trim().split("\n").length
    assert.isAtLeast(count, 2, result.stderr)
    assert.isAtMost(count, 5, result.stderr)
    assert.match(result.stderr, /level=WARN .*message="runner process failed".*runner=failing-set-[0-9a-f]+/)
    assert.include(result.stderr, "exitCode=3")
    assert.include(result.stderr, "runner broke")
    assert.include(result.stderr, "jit=<redacted>")
    assert.notMatch(result.stderr + result.stdout, /jit=(?!<redacted>)/)
  }, 60_000)

  it("run: a restart removes the runners a killed run left behind (state file)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "scaleset-cli-"))
    const pids = join(dir, "pids")
    const args = ["run", "--name", "leftover-set", "--min-runners", "2", "--max-runners", "2", "--owner", "leftover-host", "--state-file", join(dir, "state.json"), "--exec", `echo $$ >> ${pids}; exec "${process.execPath}" "${runnerBin}"`]
    const first = start(args, simEnv())
    const scaleSetRunners = () => {
      const set = sim.scaleSets().find((x) => x.name === "leftover-set")
      return set === undefined ? [] : sim.runners().filter((r) => r.scaleSetId === set.id)
    }
    try {
      await sim.waitFor(() => scaleSetRunners().filter((r) => r.status === "idle").length >= 2, 20_000, "two idle runners")
    } finally {
      // a crash: no cleanup at all, the runner processes die with it
      first.child.kill("SIGKILL")
      await first.done
      for (const pid of readFileSync(pids, "utf8").trim().split("\n").map(Number)) {
        try {
          process.kill(pid, "SIGKILL")
        } catch {
          // already gone
        }
      }
    }
    const left = scaleSetRunners().map((r) => r.id)
    assert.strictEqual(left.length, 2, "the killed run left its runners registered")
    // the killed run's session is still open: the restart removes leftovers before it listens
    const second = start(args, simEnv())
    try {
      await sim.waitFor(() => left.every((id) => !scaleSetRunners().some((r) => r.id === id)), 30_000, "the leftover runners removed")
    } finally {
      second.child.kill("SIGTERM")
    }
    const result = await second.done
    assert.include(result.stderr + result.stdout, "left by a previous run")
    assert.isFalse(scaleSetRunners().some((r) => left.includes(r.id)))
  }, 90_000)
})

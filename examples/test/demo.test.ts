/**
 * The demo as a newcomer runs it, in its short mode: a real child process running the simulator,
 * the listener and one child process per runner.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const demo = fileURLToPath(new URL("../dist/demo/main.js", import.meta.url))

interface Run {
  readonly code: number | null
  readonly output: string
}

const runDemo = (args: ReadonlyArray<string>, onOutput?: (output: string, kill: () => void) => void) =>
  new Promise<Run>((resolve, reject) => {
    const child = spawn(process.execPath, [demo, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    const append = (chunk: Buffer) => {
      output += chunk.toString()
      onOutput?.(output, () => child.kill("SIGINT"))
    }
    child.stdout.on("data", append)
    child.stderr.on("data", append)
    child.on("error", reject)
    child.on("exit", (code) => resolve({ code, output }))
  })

/** The runner processes the demo started (it logs each pid at debug level). */
const runnerPids = (output: string) => [...output.matchAll(/pid: (\d+)/g)].map((m) => Number(m[1]))

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe("pnpm demo", () => {
  it("completes every job, exits 0 and leaves no session, runner, scale set or child process", async () => {
    const { code, output } = await runDemo(["--jobs", "12", "--quick", "--verbose"])
    assert.strictEqual(code, 0, output)
    assert.match(output, /jobs completed\s+12\b/)
    assert.match(output, /cleanup: 0 open sessions, 0 runners, 0 scale sets left/)
    const pids = runnerPids(output)
    assert.isAtLeast(pids.length, 1, "the demo started runner processes")
    assert.deepStrictEqual(pids.filter(alive), [])
  }, 90_000)

  it("cleans up the same way on Ctrl-C in the middle of the run", async () => {
    let interrupted = false
    const { output } = await runDemo(["--jobs", "40", "--quick", "--verbose"], (out, kill) => {
      if (!interrupted && runnerPids(out).length >= 3) {
        interrupted = true
        kill()
      }
    })
    assert.isTrue(interrupted, output)
    assert.match(output, /deleted scale set/)
    assert.notMatch(output, /jobs completed/)
    const pids = runnerPids(output)
    assert.deepStrictEqual(pids.filter(alive), [])
  }, 60_000)

  it("every bad flag: the message and the usage, exit code 2, no stack trace", async () => {
    const cases: ReadonlyArray<readonly [ReadonlyArray<string>, RegExp]> = [
      [["--bogus"], /Unknown option '--bogus'/],
      [["--name"], /--name <value>' argument missing/],
      [["stray"], /Unexpected argument 'stray'/],
      [["--max-runners", "0"], /--max-runners must be at least 1/],
      [["--min-runners", "3", "--max-runners", "2"], /--min-runners \(3\) must not exceed --max-runners \(2\)/]
    ]
    const runs = await Promise.all(cases.map(([args]) => runDemo(args)))
    runs.forEach(({ code, output }, i) => {
      const [args, message] = cases[i]!
      assert.strictEqual(code, 2, `${args.join(" ")}: ${output}`)
      assert.match(output, message)
      assert.include(output, "Usage: pnpm demo")
      assert.notMatch(output, /\n\s+at /)
    })
  })

  it("a typed error at the end of the program is one clear line", async () => {
    const { code, output } = await runDemo(["--url", "https://127.0.0.1:1/my-org", "--token", "ghp_x", "--exec", "true"])
    assert.strictEqual(code, 1, output)
    assert.match(output, /^demo: .*ECONNREFUSED/m)
    assert.notMatch(output, /\n\s+at /)
  }, 60_000)

  it("rejects a bad flag with a clear message and exit code 2", async () => {
    const { code, output } = await runDemo(["--max-runners", "many"])
    assert.strictEqual(code, 2)
    assert.match(output, /--max-runners must be a non-negative integer, got "many"/)
  })
})

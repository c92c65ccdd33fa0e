/**
 * The code samples of the seed document (the published JavaScript API this facade reproduces),
 * adapted only in the import name, the URLs and the credentials, run against the simulator.
 */
import { afterAll, assert, beforeAll, describe, it, vi } from "@effect/vitest"
import { startSimulator, type Simulator } from "@scaleset/testing"
import {
  Client,
  DEFAULT_RUNNER_GROUP,
  GitHubAppAuth,
  JobStillRunningError,
  Listener,
  RunnerNotFoundError,
  withLogger,
  withoutTLSVerify,
  withRetryMax,
  withRetryWaitMax
} from "@scaleset/node/facade"

let sim: Simulator.SimulatorHandle
let privateKey: string
beforeAll(async () => {
  sim = await startSimulator({ longPollHold: 300, runnerPollHold: 300 })
  privateKey = sim.appPrivateKey()
})
afterAll(async () => {
  await sim.stop()
})

describe("seed samples", () => {
  it("GitHub App (recommended)", async () => {
    const client = await Client.createWithGitHubApp({
      gitHubConfigURL: sim.url,
      gitHubAppAuth: new GitHubAppAuth({
        clientId: sim.app.clientId,
        installationId: sim.app.installationId,
        privateKey
      }),
      systemInfo: { system: "my-scaler", version: "1.0.0" }
    })
    assert.strictEqual((await client.getRunnerGroupByName(DEFAULT_RUNNER_GROUP)).name, "default")
    await client.close()
  })

  it("Personal Access Token, with the client options", async () => {
    const log = vi.spyOn(console, "warn").mockImplementation(() => undefined)
    try {
      const client = await Client.createWithPersonalAccessToken(
        { gitHubConfigURL: sim.url, personalAccessToken: sim.pat },
        withLogger(console), // enable logging
        withRetryMax(5), // max retry attempts (default: 4)
        withRetryWaitMax(60000), // max retry wait in ms (default: 30000)
        withoutTLSVerify() // disable TLS verification (not recommended for production)
      )
      assert.strictEqual((await client.getRunnerGroupByName(DEFAULT_RUNNER_GROUP)).id, 1)
      await client.close()
      assert.isTrue(log.mock.calls.some((args) => String(args.join(" ")).includes("TLS")), "the disabled TLS check was logged")
    } finally {
      log.mockRestore()
    }
  })

  it("Example: Full Scale Set Lifecycle", async () => {
    const client = await Client.createWithGitHubApp({
      gitHubConfigURL: sim.url,
      gitHubAppAuth: new GitHubAppAuth({
        clientId: sim.app.clientId,
        installationId: sim.app.installationId,
        privateKey
      })
    })

    // Get the default runner group
    const runnerGroup = await client.getRunnerGroupByName(DEFAULT_RUNNER_GROUP)

    // Create a scale set (or fetch existing)
    let scaleSet = await client.getRunnerScaleSet(runnerGroup.id, "my-scale-set")
    if (!scaleSet) {
      scaleSet = await client.createRunnerScaleSet({
        name: "my-scale-set",
        runnerGroupId: runnerGroup.id,
        labels: [{ name: "my-scale-set" }],
        runnerSetting: { disableUpdate: true }
      })
    }

    // Generate a JIT runner config
    const { encodedJITConfig, runner } = await client.generateJitRunnerConfig(
      { name: `runner-${Date.now()}` },
      scaleSet.id
    )

    assert.isAbove(encodedJITConfig.length, 0)
    assert.strictEqual(runner?.runnerScaleSetId, scaleSet.id)
    assert.isTrue(scaleSet.runnerSetting.disableUpdate)
    await client.deleteRunnerScaleSet(scaleSet.id)
    await client.close()
  })

  it("Listener", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined)
    const scaleSetId = sim.createScaleSet({ name: "listener-set" })
    let currentRunnerCount = 0
    const ac = new AbortController()
    try {
      const client = await Client.createWithGitHubApp({
        gitHubConfigURL: sim.url,
        gitHubAppAuth: new GitHubAppAuth({ clientId: sim.app.clientId, installationId: sim.app.installationId, privateKey })
      })
      const scaleSet = await client.getRunnerScaleSetById(scaleSetId)
      const sessionClient = await client.createMessageSessionClient(scaleSet!.id, "my-host")

      const listener = new Listener(sessionClient, {
        scaleSetId: scaleSet!.id,
        maxRunners: 10,
        logger: console
      })

      // Implement the Scaler interface
      const scaler = {
        async handleDesiredRunnerCount(count: number) {
          console.log(`Scaling to ${count} runners`)
          // Provision or remove runners to match the desired count
          while (currentRunnerCount < count) {
            currentRunnerCount++
            const { encodedJITConfig } = await client.generateJitRunnerConfig({ name: `r-${Date.now()}-${currentRunnerCount}` }, scaleSet!.id)
            void sim.runRunner(encodedJITConfig)
          }
          return currentRunnerCount
        },
        async handleJobStarted(jobInfo: { jobDisplayName: string; runnerName: string }) {
          console.log(`Job started: ${jobInfo.jobDisplayName} on runner ${jobInfo.runnerName}`)
          // Mark runner as busy
        },
        async handleJobCompleted(jobInfo: { jobDisplayName: string; result: string }) {
          console.log(`Job completed: ${jobInfo.jobDisplayName} with result ${jobInfo.result}`)
          // Clean up the runner
          ac.abort() // the sample aborts on SIGINT; here, once a job is done
        }
      }

      sim.enqueueJobs({ count: 1, labels: ["listener-set"], durationMs: 100 })
      try {
        await listener.run(scaler, { signal: ac.signal })
      } catch (err) {
        if ((err as Error).message !== "aborted") {
          console.error("Listener error:", err)
          throw err
        }
      }

      await sessionClient.close()
      await client.close()
      const printed = log.mock.calls.map((args) => String(args[0]))
      assert.isTrue(printed.some((l) => l.startsWith("Scaling to 1 runners")), printed.join("\n"))
      assert.isTrue(printed.some((l) => l.startsWith("Job started: ")), printed.join("\n"))
      assert.isTrue(printed.some((l) => l.endsWith("with result succeeded")), printed.join("\n"))
      assert.isFalse(sim.sessions().some((s) => s.scaleSetId === scaleSetId))
    } finally {
      log.mockRestore()
    }
  }, 30_000)

  it("Error Handling", async () => {
    const client = await Client.createWithPersonalAccessToken({ gitHubConfigURL: sim.url, personalAccessToken: sim.pat })
    const outcomes: Array<string> = []
    for (const runnerId of [424242]) {
      try {
        await client.removeRunner(runnerId)
        outcomes.push("removed")
      } catch (err) {
        if (err instanceof RunnerNotFoundError) {
          outcomes.push("Runner already removed")
        } else if (err instanceof JobStillRunningError) {
          outcomes.push("Runner is busy, will retry later")
        } else {
          throw err
        }
      }
    }
    // the simulator, like the service, answers 204 for a runner that is not there
    assert.deepStrictEqual(outcomes, ["removed"])
    // a busy runner: JobStillRunningError
    const scaleSetId = sim.createScaleSet({ name: "busy-set" })
    const { encodedJITConfig, runner } = await client.generateJitRunnerConfig({ name: "busy-runner" }, scaleSetId)
    sim.enqueueJobs({ count: 1, labels: ["busy-set"], durationMs: 3_000 })
    // acquire the job, as a listener would, so the runner can take it
    const sessionClient = await client.createMessageSessionClient(scaleSetId, "my-host")
    const msg = await sessionClient.getMessage(0, 1)
    await sessionClient.acquireJobs(msg!.jobAvailableMessages.map((j) => j.runnerRequestId))
    await sessionClient.deleteMessage(msg!.messageId)
    const running = sim.runRunner(encodedJITConfig)
    await sim.waitFor((s) => s.runners.some((r) => r.id === runner!.id && r.status === "busy"), 10_000, "the runner busy")
    try {
      await client.removeRunner(runner!.id)
      assert.fail("removing a busy runner succeeded")
    } catch (err) {
      assert.instanceOf(err, JobStillRunningError)
    }
    await running
    await sessionClient.close()
    await client.close()
  }, 30_000)
})

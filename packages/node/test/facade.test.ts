import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { startSimulator, type Simulator } from "@scaleset/testing"
import {
  ActionsExceptionError,
  AuthenticationError,
  Client,
  DEFAULT_RUNNER_GROUP,
  gitHubAPIURL,
  GitHubAppAuth,
  GitHubScope,
  HttpError,
  InvalidGitHubConfigURLError,
  isHostedGitHubURL,
  Listener,
  parseGitHubConfigFromURL,
  RunnerNotFoundError,
  ValidationError,
  ScalesetError,
  withLogger,
  withoutTLSVerify,
  withProxy,
  withRetryMax,
  withRetryWaitMax,
  withTimeout
} from "../src/facade.js"
import { startProxy } from "./helpers/proxy.js"

let sim: Simulator.SimulatorHandle

beforeAll(async () => {
  sim = await startSimulator({ longPollHold: 300 })
})
afterAll(async () => {
  await sim.stop()
})

/** The promise's rejection, or a failed assertion when it resolves. */
const rejection = async (promise: Promise<unknown>): Promise<unknown> => {
  try {
    await promise
  } catch (error) {
    return error
  }
  assert.fail("expected a rejection")
}

const patClient = () =>
  Client.createWithPersonalAccessToken(
    { gitHubConfigURL: sim.url, personalAccessToken: sim.pat, systemInfo: { system: "facade-test", version: "1.0.0" } },
    withRetryMax(1),
    withRetryWaitMax(100),
    withTimeout(60_000)
  )

describe("Client (seed: full scale set lifecycle)", () => {
  it("creates, reads, updates and deletes a scale set; null when not found", async () => {
    const client = await patClient()
    try {
      const runnerGroup = await client.getRunnerGroupByName(DEFAULT_RUNNER_GROUP)
      assert.strictEqual(runnerGroup.name, "default")
      let scaleSet = await client.getRunnerScaleSet(runnerGroup.id, "my-scale-set")
      assert.isNull(scaleSet)
      scaleSet = await client.createRunnerScaleSet({
        name: "my-scale-set",
        runnerGroupId: runnerGroup.id,
        labels: [{ name: "my-scale-set" }],
        runnerSetting: { disableUpdate: true }
      })
      assert.strictEqual(scaleSet.name, "my-scale-set")
      assert.isTrue(scaleSet.runnerSetting.disableUpdate)
      assert.strictEqual((await client.getRunnerScaleSet(runnerGroup.id, "my-scale-set"))?.id, scaleSet.id)
      assert.strictEqual((await client.getRunnerScaleSetById(scaleSet.id))?.name, "my-scale-set")

      const updated = await client.updateRunnerScaleSet(scaleSet.id, { labels: [{ name: "my-scale-set" }, { name: "gpu" }] })
      assert.deepStrictEqual(updated.labels.map((l) => l.name), ["my-scale-set", "gpu"])

      const { encodedJITConfig, runner } = await client.generateJitRunnerConfig({ name: "runner-1" }, scaleSet.id)
      assert.strictEqual(typeof encodedJITConfig, "string")
      assert.isAbove(encodedJITConfig.length, 0)
      assert.strictEqual(runner?.name, "runner-1")
      const byName = await client.getRunnerByName("runner-1")
      assert.strictEqual(byName?.id, runner?.id)
      assert.strictEqual((await client.getRunner(runner!.id)).name, "runner-1")
      assert.isNull(await client.getRunnerByName("no-such-runner"))
      await client.removeRunner(runner!.id)
      assert.isNull(await client.getRunnerByName("runner-1"))

      await client.deleteRunnerScaleSet(scaleSet.id)
      assert.isNull(await client.getRunnerScaleSet(runnerGroup.id, "my-scale-set"))
    } finally {
      await client.close()
    }
  })

  it("rejects with error classes usable with instanceof, carrying the core fields", async () => {
    const client = await patClient()
    try {
      const notFound = await rejection(client.getRunner(987654))
      assert.instanceOf(notFound, RunnerNotFoundError)
      assert.instanceOf(notFound, ScalesetError)
      assert.instanceOf(notFound, Error)
      assert.notInstanceOf(notFound, ActionsExceptionError)
      const e = notFound as RunnerNotFoundError
      assert.strictEqual(e.name, "RunnerNotFoundError")
      assert.strictEqual(e.code, "RunnerNotFound")
      assert.strictEqual(e.status, 404)
      assert.strictEqual(e.method, "GET")
      assert.include(e.url, "/agents/987654")
      assert.include(e.typeName, "AgentNotFoundException")
      assert.include(e.message, "runner not found")

      const invalid = await rejection(client.createRunnerScaleSet({ runnerGroupId: 1 }))
      assert.instanceOf(invalid, ScalesetError)
      assert.strictEqual((invalid as ScalesetError).code, "ValidationError")
    } finally {
      await client.close()
    }
    const closed = await rejection(client.getRunnerGroupByName("default"))
    assert.instanceOf(closed, ScalesetError)
    assert.include((closed as Error).message, "closed")
  })

  it("fails to create with a bad URL, bad credentials or a bad key", async () => {
    const badUrl = await rejection(Client.createWithPersonalAccessToken({ gitHubConfigURL: "https://github.com", personalAccessToken: "x" }))
    assert.instanceOf(badUrl, InvalidGitHubConfigURLError)
    assert.instanceOf(badUrl, ScalesetError)

    const badKey = await rejection(Client.createWithGitHubApp({
      gitHubConfigURL: sim.url,
      gitHubAppAuth: new GitHubAppAuth({ clientId: "Iv1.x", installationId: 1, privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----" })
    }))
    assert.instanceOf(badKey, AuthenticationError)
    assert.notInclude((badKey as Error).message, "BEGIN")

    const client = await Client.createWithPersonalAccessToken({ gitHubConfigURL: sim.url, personalAccessToken: "ghp_wrong" }, withRetryMax(0))
    try {
      const denied = await rejection(client.getRunnerGroupByName("default"))
      assert.instanceOf(denied, ScalesetError)
      // GitHub answers {"message": "Bad credentials"}: an Actions-style exception body
      assert.isTrue(denied instanceof HttpError || denied instanceof ActionsExceptionError)
      assert.strictEqual((denied as ScalesetError).status, 401)
      assert.include((denied as ScalesetError).url, "registration-token")
    } finally {
      await client.close()
    }
  })

  it("authenticates as a GitHub App", async () => {
    const client = await Client.createWithGitHubApp({
      gitHubConfigURL: sim.url,
      gitHubAppAuth: new GitHubAppAuth({ clientId: sim.app.clientId, installationId: sim.app.installationId, privateKey: sim.appPrivateKey() }),
      systemInfo: { system: "my-scaler", version: "1.0.0" }
    })
    try {
      assert.strictEqual((await client.getRunnerGroupByName(DEFAULT_RUNNER_GROUP)).id, 1)
      assert.notInclude(JSON.stringify(new GitHubAppAuth({ installationId: 1, privateKey: "secret-key" })), "secret-key")
    } finally {
      await client.close()
    }
  })

  it("system info and debug info", async () => {
    const client = await patClient()
    try {
      assert.strictEqual((await client.systemInfo()).system, "facade-test")
      await client.setSystemInfo({ system: "facade-test", version: "2.0.0", scaleSetId: 7 })
      assert.strictEqual((await client.systemInfo()).scaleSetId, 7)
      const debug = JSON.parse(await client.debugInfo()) as { has_proxy: boolean; has_root_ca: boolean; system_info: string }
      assert.isFalse(debug.has_root_ca)
      assert.include(debug.system_info, "\"version\":\"2.0.0\"")
    } finally {
      await client.close()
    }
  })
})

describe("MessageSessionClient", () => {
  it("polls, acquires, acknowledges and deletes the session on close (seed polling loop)", async () => {
    const client = await patClient()
    const group = await client.getRunnerGroupByName(DEFAULT_RUNNER_GROUP)
    const scaleSet = await client.createRunnerScaleSet({ name: "polled", runnerGroupId: group.id })
    const sessionClient = await client.createMessageSessionClient(scaleSet.id, "my-host")
    try {
      const session = await sessionClient.session()
      assert.strictEqual(session.ownerName, "my-host")
      assert.isFalse("messageQueueAccessToken" in session)
      assert.strictEqual(session.statistics?.totalAssignedJobs, 0)
      assert.isNull(await sessionClient.getMessage(0, 10))

      sim.enqueueJobs({ count: 2, durationMs: 60_000, labels: ["polled"] })
      let lastMessageId = 0
      let acquired: Array<number> = []
      let desired = 0
      for (let i = 0; i < 20 && desired < 2; i++) {
        const msg = await sessionClient.getMessage(lastMessageId, 10)
        if (msg === null) continue
        lastMessageId = msg.messageId
        desired = msg.statistics?.totalAssignedJobs ?? 0
        const available = msg.jobAvailableMessages.map((job) => job.runnerRequestId)
        if (available.length > 0) acquired = [...acquired, ...(await sessionClient.acquireJobs(available))]
        await sessionClient.deleteMessage(msg.messageId)
      }
      assert.strictEqual(acquired.length, 2)
      assert.strictEqual(desired, 2)
      assert.strictEqual(sim.sessions().filter((s) => s.ownerName === "my-host").length, 1)
    } finally {
      await sessionClient.close()
      await sessionClient.close()
    }
    assert.strictEqual(sim.sessions().filter((s) => s.ownerName === "my-host").length, 0)
    await client.deleteRunnerScaleSet(scaleSet.id)
    await client.close()
  })

  it("client.close() deletes the sessions still open", async () => {
    const client = await patClient()
    const scaleSet = await client.createRunnerScaleSet({ name: "left-open", runnerGroupId: 1 })
    await client.createMessageSessionClient(scaleSet.id, "forgetful-host")
    assert.strictEqual(sim.sessions().filter((s) => s.ownerName === "forgetful-host").length, 1)
    await client.close()
    assert.strictEqual(sim.sessions().filter((s) => s.ownerName === "forgetful-host").length, 0)
  })
})

describe("Listener (seed)", () => {
  it("drives a scaler through the job life, and abort ends the run and deletes the session", async () => {
    const client = await patClient()
    const scaleSet = await client.createRunnerScaleSet({ name: "listened", runnerGroupId: 1 })
    const sessionClient = await client.createMessageSessionClient(scaleSet.id, "listener-host")
    const listener = new Listener(sessionClient, { scaleSetId: scaleSet.id, maxRunners: 5 })
    const ac = new AbortController()
    const desired: Array<number> = []
    const started: Array<string> = []
    const completed: Array<string> = []
    const runners: Array<Promise<unknown>> = []
    let provisioned = 0
    const scaler = {
      async handleDesiredRunnerCount(count: number) {
        desired.push(count)
        while (provisioned < count) {
          provisioned++
          const { encodedJITConfig } = await client.generateJitRunnerConfig({ name: `runner-${provisioned}` }, scaleSet.id)
          runners.push(sim.runRunner(encodedJITConfig))
        }
        return provisioned
      },
      async handleJobStarted(jobInfo: { runnerName: string }) {
        started.push(jobInfo.runnerName)
      },
      async handleJobCompleted(jobInfo: { runnerName: string; result: string }) {
        completed.push(`${jobInfo.runnerName}:${jobInfo.result}`)
        if (completed.length === 2) ac.abort()
      }
    }
    sim.enqueueJobs({ count: 2, durationMs: 50, labels: ["listened"] })
    const error = await rejection(listener.run(scaler, { signal: ac.signal }))
    assert.instanceOf(error, ScalesetError)
    assert.strictEqual((error as Error).message, "aborted")
    assert.strictEqual(desired[0], 0)
    assert.include(desired, 2)
    assert.strictEqual(started.length, 2)
    assert.deepStrictEqual(completed.map((c) => c.split(":")[1]), ["succeeded", "succeeded"])
    assert.strictEqual(sim.sessions().filter((s) => s.ownerName === "listener-host").length, 0)
    await sessionClient.close()
    await Promise.allSettled(runners)
    await client.close()
  })

  it("abort during a long poll ends the run at once and deletes the session", async () => {
    const slow = await startSimulator({ longPollHold: "10 minutes" })
    const client = await Client.createWithPersonalAccessToken({ gitHubConfigURL: slow.url, personalAccessToken: slow.pat })
    try {
      const scaleSet = await client.createRunnerScaleSet({ name: "idle", runnerGroupId: 1 })
      const sessionClient = await client.createMessageSessionClient(scaleSet.id, "idle-host")
      const ac = new AbortController()
      const run = new Listener(sessionClient, { scaleSetId: scaleSet.id, maxRunners: 3 }).run({
        handleDesiredRunnerCount: (count) => {
          // the first count comes from the session; the poll that follows is held by the server
          setTimeout(() => ac.abort(), 200)
          return count
        },
        handleJobStarted: () => undefined,
        handleJobCompleted: () => undefined
      }, { signal: ac.signal })
      const error = await rejection(run)
      assert.strictEqual((error as Error).message, "aborted")
      // the server would hold that poll for 10 minutes: reaching this line means abort cut it
      assert.strictEqual(slow.sessions().length, 0)
    } finally {
      await client.close()
      await slow.stop()
    }
  })

  it("a scaler's error ends the run with that error", async () => {
    const client = await patClient()
    const scaleSet = await client.createRunnerScaleSet({ name: "failing-scaler", runnerGroupId: 1 })
    const sessionClient = await client.createMessageSessionClient(scaleSet.id, "failing-host")
    const boom = new Error("cannot provision")
    const error = await rejection(
      new Listener(sessionClient, { scaleSetId: scaleSet.id, maxRunners: 1 }).run({
        handleDesiredRunnerCount: () => Promise.reject(boom),
        handleJobStarted: () => undefined,
        handleJobCompleted: () => undefined
      })
    )
    assert.strictEqual(error, boom)
    assert.strictEqual(sim.sessions().filter((s) => s.ownerName === "failing-host").length, 0)
    await client.close()
  })
})

describe("options", () => {
  it("withLogger receives the library's warnings; withProxy carries the traffic", async () => {
    const proxy = await startProxy()
    const warnings: Array<string> = []
    const logger = { warn: (message: unknown) => void warnings.push(String(message)) }
    const port = new URL(sim.origin).port
    const client = await Client.createWithPersonalAccessToken(
      { gitHubConfigURL: `http://scaleset.test:${port}/my-org`, personalAccessToken: sim.pat },
      withLogger(logger),
      withoutTLSVerify(),
      withProxy(proxy.url),
      withRetryMax(0)
    )
    try {
      assert.strictEqual((await client.getRunnerGroupByName("default")).name, "default")
      assert.strictEqual(warnings.length, 1)
      assert.include(warnings[0], "verification is disabled")
      assert.isTrue((JSON.parse(await client.debugInfo()) as { has_proxy: boolean }).has_proxy)
      assert.isTrue(proxy.seen.some((s) => s.target.includes("scaleset.test") && s.target.includes("registration-token")))
    } finally {
      await client.close()
      await proxy.close()
    }
  })
})

describe("config utilities", () => {
  it("parses configuration URLs and builds API URLs", () => {
    const repo = parseGitHubConfigFromURL("https://github.com/my-org/my-repo/")
    assert.strictEqual(repo.scope, GitHubScope.Repository)
    assert.strictEqual(repo.organization, "my-org")
    assert.strictEqual(repo.repository, "my-repo")
    assert.isTrue(repo.isHosted)
    assert.strictEqual(gitHubAPIURL(repo, "/repos/x").href, "https://api.github.com/repos/x")
    const ent = parseGitHubConfigFromURL("https://ghes.corp/enterprises/acme")
    assert.strictEqual(ent.scope, GitHubScope.Enterprise)
    assert.strictEqual(ent.enterprise, "acme")
    assert.strictEqual(gitHubAPIURL(ent, "/x").href, "https://ghes.corp/api/v3/x")
    assert.strictEqual(parseGitHubConfigFromURL("https://github.com/my-org").scope, "Organization")
    assert.deepStrictEqual(Object.keys(GitHubScope), ["Unknown", "Enterprise", "Organization", "Repository"])
    assert.strictEqual(DEFAULT_RUNNER_GROUP, "default")
    assert.isTrue(isHostedGitHubURL("https://foo.ghe.com/org"))
    assert.isFalse(isHostedGitHubURL("https://ghes.corp/org"))
  })

  it("throws InvalidGitHubConfigURLError for a URL naming no scope", () => {
    for (const url of ["https://github.com", "https://github.com/a/b/c", "not a url"]) {
      let thrown: unknown
      try {
        parseGitHubConfigFromURL(url)
      } catch (e) {
        thrown = e
      }
      assert.instanceOf(thrown, InvalidGitHubConfigURLError, url)
      assert.instanceOf(thrown, ScalesetError, url)
    }
  })
})

describe("arguments from JavaScript", () => {
  /** What a call threw, synchronously or as a rejection. */
  const thrown = async (f: () => unknown): Promise<unknown> => {
    try {
      await f()
    } catch (error) {
      return error
    }
    return assert.fail("expected an error")
  }
  const assertNames = (error: unknown, errorClass: typeof ValidationError | typeof InvalidGitHubConfigURLError, field: string) => {
    assert.instanceOf(error, errorClass)
    assert.include((error as Error).message, field)
  }

  it("missing or wrong arguments reject with a ScalesetError naming them, not a TypeError", async () => {
    assertNames(await thrown(() => Client.createWithPersonalAccessToken(undefined as never)), ValidationError, "config")
    assertNames(
      await thrown(() => Client.createWithPersonalAccessToken({ gitHubConfigURL: undefined as never, personalAccessToken: sim.pat })),
      InvalidGitHubConfigURLError,
      "gitHubConfigURL"
    )
    assertNames(
      await thrown(() => Client.createWithPersonalAccessToken({ gitHubConfigURL: sim.url, personalAccessToken: undefined as never })),
      ValidationError,
      "personalAccessToken"
    )
    assertNames(await thrown(() => new GitHubAppAuth(undefined as never)), ValidationError, "options")
    assertNames(
      await thrown(() => Client.createWithGitHubApp({ gitHubConfigURL: sim.url, gitHubAppAuth: null as never })),
      ValidationError,
      "gitHubAppAuth"
    )
    assertNames(await thrown(() => parseGitHubConfigFromURL(undefined as never)), InvalidGitHubConfigURLError, "config URL")

    const client = await patClient()
    try {
      assertNames(await thrown(() => client.createRunnerScaleSet(undefined as never)), ValidationError, "scaleSet")
      const group = await client.getRunnerGroupByName(DEFAULT_RUNNER_GROUP)
      const scaleSet = await client.createRunnerScaleSet({ name: "js-args", runnerGroupId: group.id })
      assertNames(await thrown(() => client.generateJitRunnerConfig(undefined as never, scaleSet.id)), ValidationError, "settings")
      const sessionClient = await client.createMessageSessionClient(scaleSet.id, "js-args-host")
      assertNames(await thrown(() => new Listener(sessionClient, undefined as never)), ValidationError, "options")
      assertNames(await thrown(() => new Listener(undefined as never, { scaleSetId: scaleSet.id, maxRunners: 1 })), ValidationError, "session client")
      const listener = new Listener(sessionClient, { scaleSetId: scaleSet.id, maxRunners: 1 })
      assertNames(await thrown(() => listener.run(undefined as never)), ValidationError, "scaler")
      await client.deleteRunnerScaleSet(scaleSet.id)
    } finally {
      await client.close()
    }
  })

  it("setMaxRunners rejects a bad value at the call and keeps the old one: the listener keeps running", async () => {
    const client = await patClient()
    try {
      const group = await client.getRunnerGroupByName(DEFAULT_RUNNER_GROUP)
      const scaleSet = await client.createRunnerScaleSet({ name: "set-max-runners", runnerGroupId: group.id })
      const sessionClient = await client.createMessageSessionClient(scaleSet.id, "max-runners-host")
      const listener = new Listener(sessionClient, { scaleSetId: scaleSet.id, maxRunners: 3 })
      for (const bad of [-5, 1.5, 2 ** 31, Number.NaN, "7" as never]) {
        assertNames(await thrown(() => listener.setMaxRunners(bad)), ValidationError, "maxRunners")
      }
      listener.setMaxRunners(4)
      const ac = new AbortController()
      let polls = 0
      const error = await thrown(() =>
        listener.run({
          handleDesiredRunnerCount: (count) => {
            if (++polls >= 2) ac.abort()
            return count
          },
          handleJobStarted: () => undefined,
          handleJobCompleted: () => undefined
        }, { signal: ac.signal })
      )
      assert.strictEqual((error as Error).message, "aborted")
      assert.isAtLeast(polls, 2)
      await client.deleteRunnerScaleSet(scaleSet.id)
    } finally {
      await client.close()
    }
  })
})

/**
 * The benchmark measures. Each returns a table row; subject and baseline share the same server
 * and the same wire work, and run interleaved in this process.
 */
import { Credentials, MessageSession, ScaleSetClient } from "@scaleset/core"
import { Listener } from "@scaleset/listener"
import * as NodeScaleSet from "@scaleset/node/NodeScaleSet"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { request } from "undici"
import { interleave, type Row, summary, timed, warmUp } from "./harness.js"
import { fakeJwt, startBenchServer } from "./server.js"

export interface Sizes {
  readonly rounds: number
  /** Untimed rounds of each side first (`warmUp`). */
  readonly warm: number
  readonly quick: boolean
}

const clientRuntime = (configUrl: string) =>
  ManagedRuntime.make(
    NodeScaleSet.layerClient({
      url: configUrl,
      credentials: Credentials.personalAccessToken(Redacted.make("bench-pat")),
      systemInfo: { system: "bench" }
    })
  )

const userAgent = JSON.stringify({ system: "bench", version: "", commit_sha: "", scale_set_id: 0, subsystem: "", build_version: "0.1.0", build_commit_sha: "unknown", kind: "scaleset" })

/** P1: 64 concurrent generateJitRunnerConfig, the server answering each after 20 ms. */
export const p1 = async ({ rounds, warm, quick }: Sizes): Promise<Row> => {
  const server = await startBenchServer({ jitDelayMs: 20 })
  const runtime = clientRuntime(server.configUrl)
  try {
    const client = await runtime.runPromise(ScaleSetClient.ScaleSetClient)
    await runtime.runPromise(client.getRunnerScaleSetById(1)) // warm: token chain, connections
    const jitUrl = `${server.origin}/tenant/1/_apis/runtime/runnerscalesets/1/generatejitconfig?api-version=6.0-preview`
    const adminToken = (await (await request(`${server.origin}/api/v3/actions/runner-registration`, { method: "POST", body: "{}" })).body.json() as { token: string }).token
    const subject = () =>
      timed(() =>
        runtime.runPromise(
          Effect.all(Array.from({ length: 64 }, (_, i) => client.generateJitRunnerConfig({ name: `r-${i}` }, 1)), {
            concurrency: "unbounded"
          })
        )
      )
    const raw = (i: number) =>
      request(jitUrl, {
        method: "POST",
        headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json", "user-agent": userAgent },
        body: JSON.stringify({ name: `r-${i}`, workFolder: "" })
      }).then((res) => res.body.json())
    const baseline = () => timed(() => Promise.all(Array.from({ length: 64 }, (_, i) => raw(i))))
    await warmUp(warm, subject, baseline)
    // a round is ~30 ms, where one collection or timer hiccup weighs much: five times the rounds
    const paired = await interleave(quick ? rounds : rounds * 5, subject, baseline)
    const one = summary(await Promise.all([0, 1, 2].map(() => timed(() => runtime.runPromise(client.generateJitRunnerConfig({ name: "one" }, 1))))))
    const ratio = summary(paired.ratios)
    const subjectMs = summary(paired.subject).median
    return {
      id: "P1",
      measure: "64 concurrent generateJitRunnerConfig (server 20 ms)",
      subject: "client",
      value: `${subjectMs.toFixed(1)} ms`,
      baseline: `${summary(paired.baseline).median.toFixed(1)} ms raw undici`,
      ratio,
      goal: "≤ 1.3",
      pass: ratio.median <= 1.3,
      notes: `64 calls ÷ one call = ${(subjectMs / one.median).toFixed(2)} (a client that serialises scores 64)`
    }
  } finally {
    await runtime.dispose()
    await server.close()
  }
}

const time = (minute: number) => `2024-05-01T12:${String(minute).padStart(2, "0")}:00Z`

/** A message whose body holds 50 job messages of all four kinds, every field set. */
export const fiftyJobMessage = (): string => {
  const kinds = ["JobAvailable", "JobAssigned", "JobStarted", "JobCompleted"] as const
  const jobs = Array.from({ length: 50 }, (_, i) => {
    const kind = kinds[i % 4]!
    return {
      messageType: kind,
      runnerRequestId: 1000 + i,
      repositoryName: "my-repo",
      ownerName: "my-org",
      jobId: `job-${i}`,
      jobWorkflowRef: "my-org/my-repo/.github/workflows/ci.yml@refs/heads/main",
      jobDisplayName: `build (${i})`,
      workflowRunId: 9001 + i,
      eventName: "push",
      requestLabels: ["my-scale-set", "linux"],
      queueTime: time(0),
      scaleSetAssignTime: time(1),
      runnerAssignTime: kind === "JobAvailable" || kind === "JobAssigned" ? "0001-01-01T00:00:00Z" : time(2),
      finishTime: kind === "JobCompleted" ? time(5) : "0001-01-01T00:00:00Z",
      ...(kind === "JobAvailable" ? { acquireJobUrl: "https://example.invalid/acquire" } : {}),
      ...(kind === "JobStarted" || kind === "JobCompleted" ? { runnerId: i, runnerName: `runner-${i}` } : {}),
      ...(kind === "JobCompleted" ? { result: "succeeded" } : {})
    }
  })
  return JSON.stringify({
    messageId: 42,
    messageType: "RunnerScaleSetJobMessages",
    body: JSON.stringify(jobs),
    statistics: { totalAvailableJobs: 12, totalAcquiredJobs: 12, totalAssignedJobs: 25, totalRunningJobs: 13, totalRegisteredRunners: 14, totalBusyRunners: 13, totalIdleRunners: 1 }
  })
}

/** P3: decode one 50-job message, against JSON.parse of the envelope and its body. */
export const p3 = async ({ rounds, warm, quick }: Sizes): Promise<Row> => {
  const text = fiftyJobMessage()
  const response = { method: "GET" as const, url: "https://example.invalid/queue", status: 200, headers: {}, text, attempts: 1 }
  const n = quick ? 200 : 2000
  const decodeMany = Effect.gen(function*() {
    for (let i = 0; i < n; i++) yield* MessageSession.decodeMessage(response)
  })
  const subject = () => timed(async () => Effect.runSync(decodeMany))
  const baseline = () =>
    timed(async () => {
      for (let i = 0; i < n; i++) JSON.parse((JSON.parse(text) as { body: string }).body)
    })
  const jobs = Effect.runSync(MessageSession.decodeMessage(response)).jobs.length
  if (jobs !== 50) throw new Error(`P3: decoded ${jobs} jobs, expected 50`)
  await warmUp(warm, subject, baseline)
  const paired = await interleave(rounds, subject, baseline)
  const ratio = summary(paired.ratios)
  return {
    id: "P3",
    measure: "decode a 50-job message (all kinds, all fields)",
    subject: "MessageSession.decodeMessage",
    value: `${((summary(paired.subject).median * 1000) / n).toFixed(1)} µs`,
    baseline: `${((summary(paired.baseline).median * 1000) / n).toFixed(1)} µs JSON.parse ×2`,
    ratio,
    goal: "≤ 2",
    pass: ratio.median <= 2
  }
}

/** P6: 100 concurrent calls on an expired admin token cause exactly one token chain. */
export const p6 = async (_: Sizes): Promise<Row> => {
  const server = await startBenchServer()
  const runtime = clientRuntime(server.configUrl)
  try {
    const client = await runtime.runPromise(ScaleSetClient.ScaleSetClient)
    server.setAdminExp(30) // inside the 60 s refresh window: stale as soon as it is issued
    await runtime.runPromise(client.getRunnerScaleSetById(1))
    server.setAdminExp(3600)
    const before = server.counts.get("runner-registration") ?? 0
    await runtime.runPromise(
      Effect.all(Array.from({ length: 100 }, () => client.getRunnerScaleSetById(1)), { concurrency: "unbounded" })
    )
    const chains = (server.counts.get("runner-registration") ?? 0) - before
    return {
      id: "P6",
      measure: "100 concurrent calls on an expired admin token",
      subject: "client",
      value: `${chains} chain(s)`,
      baseline: "—",
      ratio: undefined,
      goal: "exactly 1",
      pass: chains === 1
    }
  } finally {
    await runtime.dispose()
    await server.close()
  }
}

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url))

const runChild = (script: string, env: Record<string, string>) =>
  new Promise<number>((resolve, reject) => {
    const start = performance.now()
    const child = spawn(process.execPath, [here(script)], { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "inherit"] })
    child.on("error", reject)
    child.on("exit", (code) => (code === 0 ? resolve(performance.now() - start) : reject(new Error(`${script} exited ${code}`))))
  })

/** P5: cold start in a fresh process: import, layers, token chain, one getRunnerScaleSetById. */
export const p5 = async ({ rounds }: Sizes): Promise<Row> => {
  const server = await startBenchServer()
  try {
    const env = { BENCH_CONFIG_URL: server.configUrl, BENCH_ORIGIN: server.origin }
    const subject = () => runChild("./coldstart-client.js", env)
    const baseline = () => runChild("./coldstart-undici.js", env)
    await subject()
    await baseline()
    const paired = await interleave(rounds, subject, baseline)
    const ratio = summary(paired.ratios)
    // information, not judged: the Effect API's modules are not bundled
    const effect = await interleave(Math.ceil(rounds / 2), () => runChild("./coldstart-effect.js", env), baseline)
    return {
      id: "P5",
      measure: "cold start: import, layers, token chain, one call",
      subject: "fresh node process, Promise facade (bundled)",
      value: `${summary(paired.subject).median.toFixed(0)} ms`,
      baseline: `${summary(paired.baseline).median.toFixed(0)} ms undici process`,
      ratio,
      goal: "≤ 1.5",
      pass: ratio.median <= 1.5,
      notes: `Effect API, unbundled: ${summary(effect.subject).median.toFixed(0)} ms (${summary(effect.ratios).median.toFixed(1)}×): an Effect app loads effect itself`
    }
  } finally {
    await server.close()
  }
}

/** A small message: one completed job, as most messages are. */
export const oneJobMessage = (n: number): string =>
  JSON.stringify({
    messageId: n,
    messageType: "RunnerScaleSetJobMessages",
    body: JSON.stringify([{
      messageType: "JobCompleted",
      runnerRequestId: n,
      repositoryName: "my-repo",
      ownerName: "my-org",
      jobId: `job-${n}`,
      jobWorkflowRef: "my-org/my-repo/.github/workflows/ci.yml@refs/heads/main",
      jobDisplayName: "build",
      workflowRunId: 9001,
      eventName: "push",
      requestLabels: ["bench"],
      queueTime: time(0),
      scaleSetAssignTime: time(1),
      runnerAssignTime: time(2),
      finishTime: time(5),
      result: "succeeded",
      runnerId: 3,
      runnerName: "runner-3"
    }]),
    statistics: { totalAvailableJobs: 0, totalAcquiredJobs: 0, totalAssignedJobs: 1, totalRunningJobs: 1, totalRegisteredRunners: 1, totalBusyRunners: 1, totalIdleRunners: 0 }
  })

/** P2: the listener loop (poll, decode, events, ack) against a server answering at once. */
export const p2 = async ({ rounds, warm, quick }: Sizes): Promise<Row> => {
  const server = await startBenchServer({ queue: { message: oneJobMessage } })
  const runtime = clientRuntime(server.configUrl)
  const n = quick ? 50 : 1000
  try {
    const client = await runtime.runPromise(ScaleSetClient.ScaleSetClient)
    const handled = (messages: number) =>
      Effect.scoped(
        Effect.gen(function*() {
          const session = yield* client.createMessageSession(1, "bench")
          let seen = 0
          yield* Listener.events(session, { maxRunners: 10 }).pipe(
            Stream.takeUntil((event) => event._tag === "Statistics" && ++seen >= messages),
            Stream.runDrain
          )
        })
      )
    const subject = () => timed(() => runtime.runPromise(handled(n)))
    const queueUrl = `${server.origin}/queue/1`
    const headers = { authorization: `Bearer ${fakeJwt(Math.floor(Date.now() / 1000) + 3600)}`, accept: "application/json; api-version=6.0-preview", "user-agent": userAgent, "x-scalesetmaxcapacity": "10" }
    const baseline = () =>
      timed(async () => {
        let last = 0
        for (let i = 0; i < n; i++) {
          const res = await request(last > 0 ? `${queueUrl}?lastMessageId=${last}` : queueUrl, { headers })
          const message = (await res.body.json()) as { messageId: number; body: string }
          JSON.parse(message.body)
          last = message.messageId
          const ack = await request(`${queueUrl}/${last}`, { method: "DELETE", headers })
          await ack.body.dump()
        }
      })
    await warmUp(warm, subject, baseline)
    const paired = await interleave(rounds, subject, baseline)
    const acks = server.counts.get("ack") ?? 0
    if (acks < n) throw new Error(`P2: the listener acknowledged ${acks} messages, expected at least ${n}`)
    const ratio = summary(paired.ratios)
    return {
      id: "P2",
      measure: "listener loop per message (poll, decode, events, ack)",
      subject: "Listener.events",
      value: `${((summary(paired.subject).median * 1000) / n).toFixed(0)} µs`,
      baseline: `${((summary(paired.baseline).median * 1000) / n).toFixed(0)} µs raw GET+parse+DELETE`,
      ratio,
      goal: "≤ 1.5",
      pass: ratio.median <= 1.5
    }
  } finally {
    await runtime.dispose()
    await server.close()
  }
}

const runChildJson = <A>(script: string, env: Record<string, string>) =>
  new Promise<A>((resolve, reject) => {
    const child = spawn(process.execPath, ["--expose-gc", here(script)], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()))
    child.on("error", reject)
    child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out) as A) : reject(new Error(`${script} exited ${code}`))))
  })

/** P4: 1,000 listeners with sessions open and long polls held, in one process: RSS growth. */
export const p4 = async ({ quick }: Sizes): Promise<Row> => {
  const server = await startBenchServer({ queue: "hold" })
  const count = quick ? 100 : 1000
  try {
    const env = { BENCH_CONFIG_URL: server.configUrl, BENCH_ORIGIN: server.origin, BENCH_COUNT: String(count) }
    const subject = await runChildJson<{ growthBytes: number }>("./p4-listeners.js", env)
    const baseline = await runChildJson<{ growthBytes: number }>("./p4-undici.js", env)
    const stream = await runChildJson<{ growthBytes: number }>("./p4-listeners.js", { ...env, BENCH_MODE: "events" })
    const mb = (b: number) => b / 1024 / 1024
    const total = mb(subject.growthBytes) * (1000 / count)
    return {
      id: "P4",
      measure: "1,000 listeners, sessions open, polls held",
      subject: "RSS growth",
      value: `${total.toFixed(1)} MB (${((subject.growthBytes / count) / 1024).toFixed(1)} KB each)`,
      baseline: `${(mb(baseline.growthBytes) * (1000 / count)).toFixed(1)} MB raw undici polls`,
      ratio: undefined,
      goal: "≤ 60 MB",
      pass: total <= 60,
      notes: `Listener.run per scale set; Listener.events drained instead: ${(mb(stream.growthBytes) * (1000 / count)).toFixed(1)} MB` +
        (quick ? `; measured with ${count} listeners and scaled to 1,000` : "")
    }
  } finally {
    await server.close()
  }
}

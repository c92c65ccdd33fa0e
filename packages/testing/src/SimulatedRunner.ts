/**
 * A simulated ephemeral runner: it redeems the JIT config the simulator issued (base64 JSON with the
 * simulator URL, the runner id and a one-time secret), goes idle, takes one job, works on it for
 * the job's duration, reports the result and exits, like the official runner started with
 * `ACTIONS_RUNNER_INPUT_JITCONFIG`. Also runnable as a child process: `dist/bin/runner.js`.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"

/**
 * What the simulator puts in `encodedJITConfig` (base64 JSON).
 *
 * @since 0.1.0
 * @category schemas
 */
export const JitConfig = Schema.Struct({
  simulatorUrl: Schema.String,
  runnerId: Schema.Number,
  runnerName: Schema.String,
  scaleSetId: Schema.Number,
  secret: Schema.String,
  workFolder: Schema.optional(Schema.String)
})
/** @since 0.1.0 @category models */
export interface JitConfig extends Schema.Schema.Type<typeof JitConfig> {}

const Connected = Schema.Struct({ id: Schema.Number, name: Schema.String, token: Schema.String })
const Assignment = Schema.Struct({
  jobId: Schema.String,
  runnerRequestId: Schema.Number,
  durationMs: Schema.Number,
  result: Schema.String,
  jobDisplayName: Schema.String
})

/**
 * How a runner ended: after its job (`jobId`, `result`), or removed before it got one.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunnerOutcome {
  readonly runnerId: number
  readonly runnerName: string
  readonly jobId: string | undefined
  readonly result: string | undefined
}

/**
 * The runner could not redeem its config or talk to the simulator.
 *
 * @since 0.1.0
 * @category errors
 */
export class SimulatedRunnerError extends Schema.TaggedError<SimulatedRunnerError>("@scaleset/testing/SimulatedRunnerError")(
  "SimulatedRunnerError",
  { reason: Schema.String, status: Schema.optional(Schema.Number) }
) {
  override get message(): string {
    return `simulated runner: ${this.reason}${this.status === undefined ? "" : ` (status ${this.status})`}`
  }
}

/**
 * Decodes an `encodedJITConfig` of the simulator.
 *
 * @since 0.1.0
 */
export const decodeJitConfig = (encoded: string | Redacted.Redacted<string>): Effect.Effect<JitConfig, SimulatedRunnerError> => {
  const text = typeof encoded === "string" ? encoded : Redacted.value(encoded)
  const decoded = Schema.decodeUnknownEither(Schema.parseJson(JitConfig))(Buffer.from(text.trim(), "base64").toString("utf8"))
  return Either.isRight(decoded)
    ? Effect.succeed(decoded.right)
    : Effect.fail(new SimulatedRunnerError({ reason: "the JIT config is not one the simulator issued" }))
}

interface Answer {
  readonly status: number
  readonly body: string
}

const call = (
  url: string,
  init: { readonly method: "GET" | "POST"; readonly token?: string; readonly json?: unknown }
): Effect.Effect<Answer, SimulatedRunnerError> =>
  Effect.tryPromise({
    try: async (signal) => {
      const res = await fetch(url, {
        method: init.method,
        signal,
        headers: {
          ...(init.token === undefined ? {} : { Authorization: `Bearer ${init.token}` }),
          ...(init.json === undefined ? {} : { "Content-Type": "application/json" })
        },
        ...(init.json === undefined ? {} : { body: JSON.stringify(init.json) })
      })
      return { status: res.status, body: await res.text() }
    },
    catch: (e) => new SimulatedRunnerError({ reason: `request to ${new URL(url).pathname} failed: ${String(e)}` })
  })

const decodeAnswer = <A, I>(schema: Schema.Schema<A, I>, answer: Answer, what: string) => {
  const decoded = Schema.decodeUnknownEither(Schema.parseJson(schema))(answer.body)
  return Either.isRight(decoded)
    ? Effect.succeed(decoded.right)
    : Effect.fail(new SimulatedRunnerError({ reason: `unexpected ${what} answer`, status: answer.status }))
}

/**
 * @since 0.1.0
 * @category models
 */
export interface RunOptions {
  /** Called on each step (for logs): `connected`, `job`, `completed`, `removed`. */
  readonly onEvent?: ((event: string, detail: Record<string, string | number>) => void) | undefined
}

/**
 * Runs one simulated runner to its end. Interrupted (killed) after it connected, it reports its job
 * `canceled`, or goes offline when it had none (best effort), before it stops.
 *
 * @since 0.1.0
 * @category constructors
 */
export const run = (
  jitConfig: string | Redacted.Redacted<string>,
  options: RunOptions = {}
): Effect.Effect<RunnerOutcome, SimulatedRunnerError> =>
  Effect.gen(function*() {
    const config = yield* decodeJitConfig(jitConfig)
    const emit = options.onEvent ?? (() => {})
    const base = `${config.simulatorUrl.replace(/\/$/, "")}/_sim/runners`
    // connecting is not cut short: once the simulator counts the runner, it is told when it stops
    return yield* Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        const connectAnswer = yield* call(`${base}/connect`, {
          method: "POST",
          json: { runnerId: config.runnerId, secret: config.secret }
        }).pipe(Effect.timeout("30 seconds"), Effect.catchTag("TimeoutException", () =>
          Effect.fail(new SimulatedRunnerError({ reason: "connecting timed out" }))))
        if (connectAnswer.status !== 200) {
          return yield* new SimulatedRunnerError({ reason: `the JIT config was refused: ${connectAnswer.body}`, status: connectAnswer.status })
        }
        const connected = yield* decodeAnswer(Connected, connectAnswer, "connect")
        emit("connected", { runnerId: connected.id, runnerName: connected.name })
        const disconnect = call(`${base}/${connected.id}/disconnect`, { method: "POST", token: connected.token }).pipe(
          Effect.timeout("2 seconds"),
          Effect.ignore
        )
        // killed from here on: the job (if any) is reported canceled, an idle runner goes offline
        return yield* restore(work(base, connected, emit)).pipe(Effect.onInterrupt(() => disconnect))
      })
    )
  }).pipe(Effect.withSpan("SimulatedRunner.run"))

const work = (
  base: string,
  connected: typeof Connected.Type,
  emit: (event: string, detail: Record<string, string | number>) => void
): Effect.Effect<RunnerOutcome, SimulatedRunnerError> =>
  Effect.gen(function*() {
    for (;;) {
      const answer = yield* call(`${base}/${connected.id}/job`, { method: "GET", token: connected.token })
      if (answer.status === 204) continue
      if (answer.status === 410) {
        emit("removed", { runnerId: connected.id })
        return { runnerId: connected.id, runnerName: connected.name, jobId: undefined, result: undefined }
      }
      if (answer.status !== 200) {
        return yield* new SimulatedRunnerError({ reason: `polling for a job failed: ${answer.body}`, status: answer.status })
      }
      const job = yield* decodeAnswer(Assignment, answer, "job")
      emit("job", { jobId: job.jobId, runnerRequestId: job.runnerRequestId, durationMs: job.durationMs })
      yield* Effect.sleep(Duration.millis(job.durationMs))
      const done = yield* call(`${base}/${connected.id}/complete`, { method: "POST", token: connected.token, json: { result: job.result } })
      if (done.status !== 204) {
        return yield* new SimulatedRunnerError({ reason: `reporting the job failed: ${done.body}`, status: done.status })
      }
      emit("completed", { jobId: job.jobId, result: job.result })
      return { runnerId: connected.id, runnerName: connected.name, jobId: job.jobId, result: job.result }
    }
  })

/**
 * `run` for code that does not use Effect; `signal` stops the runner.
 *
 * @since 0.1.0
 * @category constructors
 */
export const runSimulatedRunner = (
  jitConfig: string,
  options: RunOptions & { readonly signal?: AbortSignal | undefined } = {}
): Promise<RunnerOutcome> => Effect.runPromise(run(jitConfig, options), options.signal ? { signal: options.signal } : undefined)

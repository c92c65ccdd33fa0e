/**
 * A local simulator of the Runner Scale Set service: a real HTTP server on loopback (random port)
 * speaking the GitHub side (app installation tokens, registration tokens, runner-registration) and
 * the Actions side (runner groups, scale sets, JIT configs, runners, sessions, the message queue,
 * job acquisition), with a job model, simulated runners, scripted faults and inspection.
 *
 * ```ts
 * const program = Effect.gen(function*() {
 *   const sim = yield* Simulator.Simulator
 *   const client = yield* ScaleSetClient.make({ url: sim.url, credentials: sim.credentials })
 *   yield* sim.enqueueJobs({ count: 3, labels: ["linux"], durationMs: 200 })
 *   // …
 * }).pipe(Effect.provide(Simulator.layer({ longPollHold: "1 second" })))
 * ```
 *
 * @since 0.1.0
 */
import * as Credentials from "@scaleset/core/Credentials"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { randomBytes } from "node:crypto"
import type * as Faults from "./Faults.js"
import type { Burst, EnqueueJobsOptions, Job, JobState, Runner, Statistics } from "./JobModel.js"
import * as SimulatedRunner from "./SimulatedRunner.js"
import {
  type Control,
  ControlError,
  type ExpireTokens,
  makeControl,
  type ScaleSetInfo,
  type SessionInfo,
  type Snapshot
} from "./internal/control.js"
import { type RecordedRequest, startServer } from "./internal/server.js"

export type { ExpireTokens, RecordedRequest, ScaleSetInfo, SessionInfo, Snapshot }

/**
 * @since 0.1.0
 * @category models
 */
export interface SimulatorOptions {
  /** The organization of `url`. Default `my-org`. Any org, repo or enterprise URL is served. */
  readonly organization?: string | undefined
  /** The repository named in job messages. Default `my-repo`. */
  readonly repository?: string | undefined
  /** The personal access token it accepts. Default: a random `ghp_…`. */
  readonly pat?: string | undefined
  /**
   * The GitHub App it accepts. Without `publicKey` it generates a key pair (on first use) and
   * hands out the PEM (PKCS#1) private key through `appCredentials`.
   */
  readonly app?: {
    readonly clientId?: string | undefined
    readonly appId?: number | undefined
    readonly installationId?: number | undefined
    /** PEM public key (SPKI or PKCS#1) the app JWT must verify against. */
    readonly publicKey?: string | undefined
  } | undefined
  /** Runner groups besides `default` (id 1). */
  readonly runnerGroups?: ReadonlyArray<string | { readonly name: string; readonly id?: number | undefined }> | undefined
  /** How long a message poll is held when there is nothing to deliver. Default 50 seconds. */
  readonly longPollHold?: Duration.DurationInput | undefined
  /** An offered or acquired job that no runner starts within this is canceled and requeued. Default 5 minutes. */
  readonly assignmentTimeout?: Duration.DurationInput | undefined
  /** Lifetime of admin tokens (the client refreshes 60 s before `exp`). Default 1 hour. */
  readonly adminTokenTtl?: Duration.DurationInput | undefined
  /** Lifetime of message queue tokens. Default 1 hour. */
  readonly queueTokenTtl?: Duration.DurationInput | undefined
  /** How long a simulated runner's poll for a job is held. Default 10 seconds. */
  readonly runnerPollHold?: Duration.DurationInput | undefined
  /** Job messages arriving within this of each other share a message. Default 10 ms. */
  readonly batchWindow?: Duration.DurationInput | undefined
  /**
   * A session neither polled nor refreshed for this long is deleted, as the service expires the
   * session of a listener that died without closing it. Default 2 minutes; 0 keeps sessions forever.
   */
  readonly sessionIdleTimeout?: Duration.DurationInput | undefined
  /** Default 0: a random free port. */
  readonly port?: number | undefined
  /** Default 10 000. */
  readonly maxRecordedRequests?: number | undefined
}

/**
 * Something the simulator cannot do as asked (a session that cannot be held, a key it does not
 * have, a wait that timed out).
 *
 * @since 0.1.0
 * @category errors
 */
export class SimulatorError extends Schema.TaggedError<SimulatorError>("@scaleset/testing/SimulatorError")(
  "SimulatorError",
  { reason: Schema.String }
) {
  override get message(): string {
    return this.reason
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface SimulatorShape {
  /** The configuration URL to give a client: `http://127.0.0.1:PORT/{organization}`. */
  readonly url: string
  /** `http://127.0.0.1:PORT` */
  readonly origin: string
  /** The Actions service URL runner-registration answers with. */
  readonly serviceUrl: string
  /** A configuration URL for another scope. */
  readonly configUrl: (scope: { readonly organization: string } | { readonly owner: string; readonly repository: string } | {
    readonly enterprise: string
  }) => string
  readonly pat: Redacted.Redacted<string>
  /** Personal access token credentials it accepts. */
  readonly credentials: Credentials.Credentials
  readonly app: { readonly clientId: string; readonly appId: number; readonly installationId: number }
  /** App credentials with the generated private key (fails when a public key was configured). */
  readonly appCredentials: Effect.Effect<Credentials.Credentials, SimulatorError>
  /** The generated app private key, PEM (PKCS#1). */
  readonly appPrivateKey: Effect.Effect<Redacted.Redacted<string>, SimulatorError>

  // workload
  /** Queues workflow jobs; their ids. */
  readonly enqueueJobs: (options?: EnqueueJobsOptions) => Effect.Effect<ReadonlyArray<string>>
  /** Queues bursts of jobs over time (each `afterMs` after the previous); all job ids. Interruptible. */
  readonly workload: (bursts: ReadonlyArray<Burst>) => Effect.Effect<ReadonlyArray<string>>
  readonly addRunnerGroup: (name: string) => Effect.Effect<{ readonly id: number; readonly name: string }>
  /** Creates a scale set directly, as another client would; its id. */
  readonly createScaleSet: (input: {
    readonly name: string
    readonly runnerGroupId?: number
    readonly labels?: ReadonlyArray<string>
  }) => Effect.Effect<number, SimulatorError>
  /** Runs a simulated runner in this process (see `SimulatedRunner.run`). */
  readonly runRunner: (
    jitConfig: string | Redacted.Redacted<string>
  ) => Effect.Effect<SimulatedRunner.RunnerOutcome, SimulatedRunner.SimulatedRunnerError>

  // faults
  readonly inject: (rules: Faults.FaultRule | ReadonlyArray<Faults.FaultRule>) => Effect.Effect<void>
  /** The next requests matching get these statuses in turn (`"pass"` lets one through). */
  readonly statusSequence: (
    match: Faults.RouteId | Faults.FaultMatch,
    statuses: ReadonlyArray<number | "pass">,
    options?: { readonly retryAfter?: number | undefined }
  ) => Effect.Effect<void>
  readonly clearFaults: Effect.Effect<void>
  /** Tokens issued so far are refused from now on (401); all kinds unless some are named. */
  readonly expireTokens: (which?: ExpireTokens) => Effect.Effect<void>
  /** Holds the scale set's session as another client would, until the scope closes: creates get 409. */
  readonly holdSession: (scaleSetId: number, ownerName?: string) => Effect.Effect<void, SimulatorError, Scope.Scope>
  /** Deletes a scale set behind the client's back (sessions, runners and offers go with it). */
  readonly deleteScaleSet: (id: number) => Effect.Effect<void, SimulatorError>

  // inspection
  readonly requests: (filter?: { readonly route?: Faults.RouteId; readonly method?: string }) => Effect.Effect<ReadonlyArray<RecordedRequest>>
  readonly clearRequests: Effect.Effect<void>
  readonly scaleSets: Effect.Effect<ReadonlyArray<ScaleSetInfo>>
  readonly sessions: Effect.Effect<ReadonlyArray<SessionInfo>>
  readonly runners: Effect.Effect<ReadonlyArray<Runner>>
  readonly jobs: (state?: JobState) => Effect.Effect<ReadonlyArray<Job>>
  readonly statistics: (scaleSetId: number) => Effect.Effect<Statistics, SimulatorError>
  readonly snapshot: Effect.Effect<Snapshot>
  /** Waits until `predicate` holds (checked after every change); fails after `timeout` (default 30 s). */
  readonly waitFor: (
    predicate: (snapshot: Snapshot) => boolean,
    options?: { readonly timeout?: Duration.DurationInput | undefined; readonly description?: string | undefined }
  ) => Effect.Effect<Snapshot, SimulatorError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Simulator extends Context.Tag("@scaleset/testing/Simulator")<Simulator, SimulatorShape>() {}

const millis = (d: Duration.DurationInput | undefined, fallback: Duration.DurationInput) =>
  Duration.toMillis(Duration.decode(d ?? fallback))

const toSimulatorError = (e: unknown) => new SimulatorError({ reason: e instanceof Error ? e.message : String(e) })

const syncOrFail = <A>(f: () => A): Effect.Effect<A, SimulatorError> =>
  Effect.try({ try: f, catch: toSimulatorError })

interface Started {
  readonly control: Control
  readonly origin: string
  readonly serviceUrl: string
  readonly organization: string
  readonly pat: string
  readonly app: { readonly clientId: string; readonly appId: number; readonly installationId: number }
  readonly appPrivateKey: () => string | undefined
  readonly close: () => Promise<void>
}

const start = async (options: SimulatorOptions): Promise<Started> => {
  const organization = options.organization ?? "my-org"
  const pat = options.pat ?? `ghp_${randomBytes(18).toString("hex")}`
  const app = {
    clientId: options.app?.clientId ?? "Iv1.5c3bb0c26f4e4b43",
    appId: options.app?.appId ?? 123456,
    installationId: options.app?.installationId ?? 4242
  }
  const server = await startServer({
    pat,
    appClientId: app.clientId,
    appId: app.appId,
    installationId: app.installationId,
    appPublicKey: options.app?.publicKey,
    adminTokenTtlMs: millis(options.adminTokenTtl, "1 hour"),
    queueTokenTtlMs: millis(options.queueTokenTtl, "1 hour"),
    registrationTokenTtlMs: 3_600_000,
    installationTokenTtlMs: 3_600_000,
    organization,
    repository: options.repository ?? "my-repo",
    runnerGroups: (options.runnerGroups ?? []).map((g) => (typeof g === "string" ? { name: g } : g)),
    assignmentTimeoutMs: millis(options.assignmentTimeout, "5 minutes"),
    holdMs: millis(options.longPollHold, "50 seconds"),
    runnerPollMs: millis(options.runnerPollHold, "10 seconds"),
    batchMs: millis(options.batchWindow, "10 millis"),
    port: options.port ?? 0,
    maxRecordedRequests: options.maxRecordedRequests ?? 10_000,
    sessionIdleTimeoutMs: millis(options.sessionIdleTimeout, "2 minutes")
  })
  return {
    control: makeControl(server),
    origin: server.origin,
    serviceUrl: server.serviceUrl,
    organization,
    pat,
    app,
    appPrivateKey: () => server.tokens.appPrivateKey(),
    close: server.close
  }
}

const configUrlOf = (origin: string): SimulatorShape["configUrl"] => (scope) => {
  const e = encodeURIComponent
  return "organization" in scope
    ? `${origin}/${e(scope.organization)}`
    : "enterprise" in scope
    ? `${origin}/enterprises/${e(scope.enterprise)}`
    : `${origin}/${e(scope.owner)}/${e(scope.repository)}`
}

/**
 * Starts the simulator in the current scope; closing the scope stops it (open long polls are
 * answered, sockets closed, timers cleared).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: SimulatorOptions = {}): Effect.Effect<SimulatorShape, SimulatorError, Scope.Scope> =>
  Effect.gen(function*() {
    const started = yield* Effect.acquireRelease(
      Effect.tryPromise({ try: () => start(options), catch: toSimulatorError }),
      (s) => Effect.promise(() => s.close())
    )
    const { control } = started
    const appPrivateKey = syncOrFail(() => {
      const pem = started.appPrivateKey()
      if (pem === undefined) throw new ControlError("the simulator was given the app's public key, so it has no private key")
      return Redacted.make(pem)
    })
    return Simulator.of({
      url: `${started.origin}/${encodeURIComponent(started.organization)}`,
      origin: started.origin,
      serviceUrl: started.serviceUrl,
      configUrl: configUrlOf(started.origin),
      pat: Redacted.make(started.pat),
      credentials: Credentials.personalAccessToken(Redacted.make(started.pat)),
      app: started.app,
      appCredentials: Effect.map(appPrivateKey, (privateKey) =>
        Credentials.gitHubApp({ clientId: started.app.clientId, installationId: started.app.installationId, privateKey })),
      appPrivateKey,

      enqueueJobs: (o) => Effect.sync(() => control.enqueueJobs(o)),
      workload: (bursts) =>
        Effect.forEach(bursts, (burst) =>
          Effect.sleep(Duration.millis(burst.afterMs ?? 0)).pipe(Effect.zipRight(Effect.sync(() => control.enqueueJobs(burst))))).pipe(
            Effect.map((ids) => ids.flat())
          ),
      addRunnerGroup: (name) => Effect.sync(() => control.addRunnerGroup(name)),
      createScaleSet: (input) => syncOrFail(() => control.createScaleSet(input)),
      runRunner: (jitConfig) => SimulatedRunner.run(jitConfig),

      inject: (rules) => Effect.sync(() => control.inject(rules)),
      statusSequence: (match, statuses, o) => Effect.sync(() => control.statusSequence(match, statuses, o)),
      clearFaults: Effect.sync(() => control.clearFaults()),
      expireTokens: (which) => Effect.sync(() => control.expireTokens(which)),
      holdSession: (scaleSetId, ownerName) =>
        Effect.acquireRelease(syncOrFail(() => control.holdSession(scaleSetId, ownerName)), (release) => Effect.sync(release)).pipe(
          Effect.asVoid
        ),
      deleteScaleSet: (id) => syncOrFail(() => control.deleteScaleSet(id)),

      requests: (filter) => Effect.sync(() => control.requests(filter)),
      clearRequests: Effect.sync(() => control.clearRequests()),
      scaleSets: Effect.sync(() => control.scaleSets()),
      sessions: Effect.sync(() => control.sessions()),
      runners: Effect.sync(() => control.runners()),
      jobs: (state) => Effect.sync(() => control.jobs(state)),
      statistics: (id) => syncOrFail(() => control.statistics(id)),
      snapshot: Effect.sync(() => control.snapshot()),
      waitFor: (predicate, o) =>
        Effect.async<Snapshot, SimulatorError>((resume) => {
          const timeoutMs = millis(o?.timeout, "30 seconds")
          let done = false
          const finish = (effect: Effect.Effect<Snapshot, SimulatorError>) => {
            if (done) return
            done = true
            clearTimeout(timer)
            unsubscribe()
            resume(effect)
          }
          const check = () => {
            const s = control.snapshot()
            if (predicate(s)) finish(Effect.succeed(s))
          }
          const timer = setTimeout(() =>
            finish(Effect.fail(
              new SimulatorError({ reason: `timed out after ${timeoutMs} ms waiting for ${o?.description ?? "a condition"}` })
            )), timeoutMs)
          const unsubscribe = control.onChange(check)
          check()
          return Effect.sync(() => {
            done = true
            clearTimeout(timer)
            unsubscribe()
          })
        })
    })
  })

/**
 * The simulator as a scoped layer: started when the layer is built, stopped on release.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: SimulatorOptions = {}): Layer.Layer<Simulator, SimulatorError> =>
  Layer.scoped(Simulator, make(options))

/**
 * A running simulator for code that does not use Effect.
 *
 * @since 0.1.0
 * @category models
 */
export interface SimulatorHandle extends Control {
  readonly url: string
  readonly origin: string
  readonly serviceUrl: string
  readonly configUrl: SimulatorShape["configUrl"]
  readonly pat: string
  readonly app: { readonly clientId: string; readonly appId: number; readonly installationId: number }
  /** The generated app private key, PEM (PKCS#1); throws when a public key was configured. */
  readonly appPrivateKey: () => string
  /** Runs a simulated runner in this process. */
  readonly runRunner: (jitConfig: string, options?: { readonly signal?: AbortSignal }) => Promise<SimulatedRunner.RunnerOutcome>
  /** Stops the server: open polls are answered, sockets closed. */
  readonly stop: () => Promise<void>
}

/**
 * Starts a simulator without Effect.
 *
 * ```ts
 * const sim = await startSimulator({ longPollHold: 2000 })
 * sim.enqueueJobs({ count: 5 })
 * await sim.stop()
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const startSimulator = async (options: SimulatorOptions = {}): Promise<SimulatorHandle> => {
  const started = await start(options)
  return {
    ...started.control,
    url: `${started.origin}/${encodeURIComponent(started.organization)}`,
    origin: started.origin,
    serviceUrl: started.serviceUrl,
    configUrl: configUrlOf(started.origin),
    pat: started.pat,
    app: started.app,
    appPrivateKey: () => {
      const pem = started.appPrivateKey()
      if (pem === undefined) throw new ControlError("the simulator was given the app's public key, so it has no private key")
      return pem
    },
    runRunner: (jitConfig, o) => SimulatedRunner.runSimulatedRunner(jitConfig, o),
    stop: started.close
  }
}

/**
 * The Promise client: the seed's JavaScript API, a thin layer over the Effect `ScaleSetClient`
 * with one `ManagedRuntime` per client. Every method returns a Promise; "not found" is `null`;
 * failures reject with the classes of `./errors.ts`.
 *
 * @since 0.1.0
 */
import * as Credentials from "@scaleset/core/Credentials"
import type * as MessageSession from "@scaleset/core/MessageSession"
import * as ScaleSetClient from "@scaleset/core/ScaleSetClient"
import type * as ScaleSetSchema from "@scaleset/core/ScaleSetSchema"
import * as SystemInfoModule from "@scaleset/core/SystemInfo"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as NodeScaleSet from "../NodeScaleSet.js"
import { fromCause, InvalidGitHubConfigURLError, invalidArgument, isObject, ScalesetError } from "./errors.js"
import { type ClientOption, collect, loggerLayer } from "./options.js"

/** @since 0.1.0 @category models */
export interface SystemInfo {
  readonly system?: string | undefined
  readonly version?: string | undefined
  readonly commitSha?: string | undefined
  readonly scaleSetId?: number | undefined
  readonly subsystem?: string | undefined
}

/** @since 0.1.0 @category models */
export type RunnerScaleSet = ScaleSetSchema.RunnerScaleSet
/** @since 0.1.0 @category models */
export type RunnerGroup = ScaleSetSchema.RunnerGroup
/** @since 0.1.0 @category models */
export type RunnerReference = ScaleSetSchema.RunnerReference
/** @since 0.1.0 @category models */
export type RunnerScaleSetStatistic = ScaleSetSchema.RunnerScaleSetStatistic
/** @since 0.1.0 @category models */
export type RunnerScaleSetInput = ScaleSetClient.RunnerScaleSetInput
/** @since 0.1.0 @category models */
export type JitRunnerSetting = ScaleSetClient.JitRunnerSetting

/**
 * A JIT config: give `encodedJITConfig` to the runner (`--jitconfig`). It is a secret until used.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunnerScaleSetJitRunnerConfig {
  readonly runner: RunnerReference | null
  readonly encodedJITConfig: string
}

/**
 * A message session; the queue token stays inside the client.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunnerScaleSetSession {
  readonly sessionId: string
  readonly ownerName: string
  readonly runnerScaleSet: RunnerScaleSet | null
  readonly messageQueueUrl: string
  readonly statistics: RunnerScaleSetStatistic | null
}

/**
 * A queue message, its job messages grouped by type (batch order within each).
 *
 * @since 0.1.0
 * @category models
 */
export interface RunnerScaleSetMessage {
  readonly messageId: number
  readonly messageType: string
  readonly statistics: RunnerScaleSetStatistic | null
  readonly jobAvailableMessages: ReadonlyArray<ScaleSetSchema.JobAvailable>
  readonly jobAssignedMessages: ReadonlyArray<ScaleSetSchema.JobAssigned>
  readonly jobStartedMessages: ReadonlyArray<ScaleSetSchema.JobStarted>
  readonly jobCompletedMessages: ReadonlyArray<ScaleSetSchema.JobCompleted>
}

/**
 * GitHub App credentials. The private key (PKCS#1 or PKCS#8 PEM) is kept private and never printed.
 *
 * @since 0.1.0
 * @category models
 */
export class GitHubAppAuth {
  /** The app's client id (`Iv1.…`), or its numeric app id. */
  readonly clientId: string
  readonly installationId: number
  readonly #privateKey: Redacted.Redacted<string>

  constructor(options: {
    readonly clientId?: string | undefined
    readonly appId?: string | number | undefined
    readonly installationId: number | string
    readonly privateKey: string
  }) {
    if (!isObject(options)) throw invalidArgument("options", "an object with clientId (or appId), installationId and privateKey", options)
    this.clientId = options.clientId ?? (options.appId === undefined ? "" : String(options.appId))
    this.installationId = Number(options.installationId)
    this.#privateKey = Redacted.make(options.privateKey ?? "")
  }

  /** @internal */
  credentials(): Credentials.Credentials {
    return Credentials.gitHubApp({ clientId: this.clientId, installationId: this.installationId, privateKey: this.#privateKey })
  }
}

/** The layer's build error surfaces as a failure of the first run, converted like any other. */
type Runtime = ManagedRuntime.ManagedRuntime<ScaleSetClient.ScaleSetClient, unknown>

/**
 * Runs an Effect on a client's runtime, rejecting with the facade's errors.
 *
 * @internal
 */
export class Edge {
  closed = false
  constructor(readonly runtime: Runtime, readonly service: ScaleSetClient.ScaleSetClientShape) {}

  async run<A, E>(effect: Effect.Effect<A, E>): Promise<A> {
    if (this.closed) throw new ScalesetError("the client is closed", "Closed")
    const exit = await this.runtime.runPromiseExit(effect)
    if (Exit.isFailure(exit)) throw fromCause(exit.cause)
    return exit.value
  }
}

const toSession = (session: ScaleSetSchema.RunnerScaleSetSession): RunnerScaleSetSession => ({
  sessionId: session.sessionId,
  ownerName: session.ownerName,
  runnerScaleSet: session.runnerScaleSet ?? null,
  messageQueueUrl: session.messageQueueUrl,
  statistics: session.statistics ?? null
})

const toMessage = (message: ScaleSetSchema.RunnerScaleSetMessage): RunnerScaleSetMessage => {
  const jobAvailableMessages: Array<ScaleSetSchema.JobAvailable> = []
  const jobAssignedMessages: Array<ScaleSetSchema.JobAssigned> = []
  const jobStartedMessages: Array<ScaleSetSchema.JobStarted> = []
  const jobCompletedMessages: Array<ScaleSetSchema.JobCompleted> = []
  for (const job of message.jobs) {
    switch (job.messageType) {
      case "JobAvailable":
        jobAvailableMessages.push(job)
        break
      case "JobAssigned":
        jobAssignedMessages.push(job)
        break
      case "JobStarted":
        jobStartedMessages.push(job)
        break
      case "JobCompleted":
        jobCompletedMessages.push(job)
        break
    }
  }
  return {
    messageId: message.messageId,
    messageType: message.messageType,
    statistics: message.statistics ?? null,
    jobAvailableMessages,
    jobAssignedMessages,
    jobStartedMessages,
    jobCompletedMessages
  }
}

/**
 * What the facade's `Listener` needs of a session client (not part of the public API).
 *
 * @internal
 */
export const sessionInternals = new WeakMap<MessageSessionClient, { readonly edge: Edge; readonly session: MessageSession.MessageSession }>()

/**
 * A message session of a scale set, created by `client.createMessageSessionClient`. `close()`
 * deletes the session on the service.
 *
 * @since 0.1.0
 */
export class MessageSessionClient {
  readonly #edge: Edge
  readonly #scope: Scope.CloseableScope
  readonly #session: MessageSession.MessageSession
  readonly #onClose: () => void
  #closing: Promise<void> | undefined

  /** @internal */
  constructor(edge: Edge, scope: Scope.CloseableScope, session: MessageSession.MessageSession, onClose: () => void) {
    this.#edge = edge
    this.#scope = scope
    this.#session = session
    this.#onClose = onClose
    sessionInternals.set(this, { edge, session })
  }

  /** The scale set this session belongs to. */
  get scaleSetId(): number {
    return this.#session.scaleSetId
  }

  /**
   * Long-polls for the next message after `lastMessageId` (0 for the first), telling the service
   * this scale set can have `maxCapacity` runners. `null` when the poll ended without one.
   */
  getMessage(lastMessageId: number, maxCapacity: number): Promise<RunnerScaleSetMessage | null> {
    return this.#edge.run(
      Effect.map(this.#session.getMessage(lastMessageId, maxCapacity), (m) => Option.isSome(m) ? toMessage(m.value) : null)
    )
  }

  /** Acknowledges a message so it is not delivered again. */
  deleteMessage(messageId: number): Promise<void> {
    return this.#edge.run(this.#session.deleteMessage(messageId))
  }

  /** Acquires the jobs of `JobAvailable` messages by `runnerRequestId`; resolves with the ids acquired. */
  acquireJobs(requestIds: ReadonlyArray<number>): Promise<Array<number>> {
    return this.#edge.run(Effect.map(this.#session.acquireJobs(requestIds), (ids) => [...ids]))
  }

  /** The current session (it changes when the session is refreshed). */
  session(): Promise<RunnerScaleSetSession> {
    return this.#edge.run(Effect.map(this.#session.session, toSession))
  }

  /** Deletes the session on the service. Safe to call more than once. */
  close(): Promise<void> {
    this.#closing ??= this.#edge.run(
      this.#session.close.pipe(Effect.ensuring(Scope.close(this.#scope, Exit.void)), Effect.ensuring(Effect.sync(this.#onClose)))
    )
    return this.#closing
  }
}

/**
 * A client of the Runner Scale Set APIs. Create it with `Client.createWithGitHubApp` or
 * `Client.createWithPersonalAccessToken`; `close()` releases it.
 *
 * @since 0.1.0
 */
export class Client {
  readonly #edge: Edge
  readonly #sessions = new Set<MessageSessionClient>()

  private constructor(edge: Edge) {
    this.#edge = edge
  }

  /** A client authenticating as a GitHub App installation (recommended). */
  static async createWithGitHubApp(
    config: { readonly gitHubConfigURL: string; readonly gitHubAppAuth: GitHubAppAuth; readonly systemInfo?: SystemInfo | undefined },
    ...options: Array<ClientOption>
  ): Promise<Client> {
    if (!isObject(config)) throw invalidArgument("config", "an object with gitHubConfigURL and gitHubAppAuth", config)
    if (!(config.gitHubAppAuth instanceof GitHubAppAuth)) {
      throw invalidArgument("gitHubAppAuth", "a GitHubAppAuth (new GitHubAppAuth({ clientId, installationId, privateKey }))", config.gitHubAppAuth)
    }
    return Client.#create(config.gitHubConfigURL, config.gitHubAppAuth.credentials(), config.systemInfo, options)
  }

  /** A client authenticating with a personal access token. */
  static async createWithPersonalAccessToken(
    config: { readonly gitHubConfigURL: string; readonly personalAccessToken: string; readonly systemInfo?: SystemInfo | undefined },
    ...options: Array<ClientOption>
  ): Promise<Client> {
    if (!isObject(config)) throw invalidArgument("config", "an object with gitHubConfigURL and personalAccessToken", config)
    if (typeof config.personalAccessToken !== "string") {
      throw invalidArgument("personalAccessToken", "a string", config.personalAccessToken)
    }
    return Client.#create(config.gitHubConfigURL, Credentials.personalAccessToken(config.personalAccessToken ?? ""), config.systemInfo, options)
  }

  static async #create(
    url: string,
    credentials: Credentials.Credentials,
    systemInfo: SystemInfo | undefined,
    options: ReadonlyArray<ClientOption>
  ): Promise<Client> {
    if (typeof url !== "string") {
      throw new InvalidGitHubConfigURLError(`gitHubConfigURL must be a string, got ${url === null ? "null" : typeof url}`, {
        url: String(url),
        reason: "gitHubConfigURL is missing"
      })
    }
    const settings = collect(options)
    const layer = NodeScaleSet.layerClient({
      url,
      credentials,
      systemInfo: SystemInfoModule.make(definedOnly(systemInfo ?? {})),
      retry: {
        ...(settings.retryMax === undefined ? {} : { max: settings.retryMax }),
        ...(settings.retryWaitMax === undefined ? {} : { waitMax: Duration.millis(settings.retryWaitMax) })
      },
      ...(settings.timeout === undefined ? {} : { timeout: Duration.millis(settings.timeout) }),
      transport: {
        ...(settings.proxy === undefined ? {} : { proxy: settings.proxy }),
        ...(settings.noProxy === undefined ? {} : { noProxy: settings.noProxy }),
        ...(settings.rootCAs.length === 0 ? {} : { rootCAs: settings.rootCAs }),
        ...(settings.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: settings.rejectUnauthorized })
      }
    }).pipe(Layer.provideMerge(loggerLayer(settings.logger)))
    const runtime: Runtime = ManagedRuntime.make(layer)
    const exit = await runtime.runPromiseExit(ScaleSetClient.ScaleSetClient)
    if (Exit.isFailure(exit)) {
      await runtime.dispose()
      throw fromCause(exit.cause)
    }
    return new Client(new Edge(runtime, exit.value))
  }

  /** The scale set with this name in the runner group, or `null`. */
  getRunnerScaleSet(runnerGroupId: number, name: string): Promise<RunnerScaleSet | null> {
    return this.#edge.run(Effect.map(this.#edge.service.getRunnerScaleSet(runnerGroupId, name), Option.getOrNull))
  }

  /** The scale set with this id (`null` when the service answers with none). */
  getRunnerScaleSetById(id: number): Promise<RunnerScaleSet | null> {
    return this.#edge.run(Effect.map(this.#edge.service.getRunnerScaleSetById(id), Option.getOrNull))
  }

  /** Creates a scale set; labels default to one named after it. */
  async createRunnerScaleSet(scaleSet: RunnerScaleSetInput): Promise<RunnerScaleSet> {
    if (!isObject(scaleSet)) throw invalidArgument("scaleSet", "an object with name and runnerGroupId", scaleSet)
    return this.#edge.run(this.#edge.service.createRunnerScaleSet(scaleSet))
  }

  async updateRunnerScaleSet(id: number, updates: RunnerScaleSetInput): Promise<RunnerScaleSet> {
    if (!isObject(updates)) throw invalidArgument("updates", "an object", updates)
    return this.#edge.run(this.#edge.service.updateRunnerScaleSet(id, updates))
  }

  deleteRunnerScaleSet(id: number): Promise<void> {
    return this.#edge.run(this.#edge.service.deleteRunnerScaleSet(id))
  }

  /** The runner group with this name; rejects with `RunnerGroupNotFoundError` when there is none. */
  getRunnerGroupByName(name: string): Promise<RunnerGroup> {
    return this.#edge.run(this.#edge.service.getRunnerGroupByName(name))
  }

  /** A just-in-time config for a new runner of the scale set. */
  async generateJitRunnerConfig(settings: JitRunnerSetting, scaleSetId: number): Promise<RunnerScaleSetJitRunnerConfig> {
    if (!isObject(settings)) throw invalidArgument("settings", "an object with the runner's name", settings)
    return this.#edge.run(
      Effect.map(this.#edge.service.generateJitRunnerConfig(settings, scaleSetId), (jit) => ({
        runner: Option.getOrNull(jit.runner),
        encodedJITConfig: Redacted.value(jit.encodedJITConfig)
      }))
    )
  }

  getRunner(id: number): Promise<RunnerReference> {
    return this.#edge.run(this.#edge.service.getRunner(id))
  }

  /** The runner with this name, or `null`. */
  getRunnerByName(name: string): Promise<RunnerReference | null> {
    return this.#edge.run(Effect.map(this.#edge.service.getRunnerByName(name), Option.getOrNull))
  }

  removeRunner(id: number): Promise<void> {
    return this.#edge.run(this.#edge.service.removeRunner(id))
  }

  /** Creates a message session for the scale set (retrying a while if another client holds it). */
  async createMessageSessionClient(scaleSetId: number, owner: string): Promise<MessageSessionClient> {
    const scope = await this.#edge.run(Scope.make())
    const exit = await this.#edge.runtime.runPromiseExit(
      Scope.extend(this.#edge.service.createMessageSession(scaleSetId, owner), scope)
    )
    if (Exit.isFailure(exit)) {
      await this.#edge.runtime.runPromise(Scope.close(scope, exit))
      throw fromCause(exit.cause)
    }
    const session: MessageSessionClient = new MessageSessionClient(this.#edge, scope, exit.value, () => this.#sessions.delete(session))
    this.#sessions.add(session)
    return session
  }

  /** Replaces the system info sent in the `User-Agent` of every request. */
  async setSystemInfo(info: SystemInfo): Promise<void> {
    if (!isObject(info)) throw invalidArgument("info", "an object", info)
    return this.#edge.run(this.#edge.service.setSystemInfo(SystemInfoModule.make(definedOnly(info))))
  }

  systemInfo(): Promise<SystemInfoModule.SystemInfo> {
    return this.#edge.run(this.#edge.service.systemInfo)
  }

  /** A JSON string for diagnostics: whether a proxy and extra root CAs are used, the user agent. */
  debugInfo(): Promise<string> {
    return this.#edge.run(this.#edge.service.debugInfo)
  }

  /** Closes the open message sessions (deleting them), then the client. Safe to call more than once. */
  async close(): Promise<void> {
    if (this.#edge.closed) return
    await Promise.allSettled([...this.#sessions].map((s) => s.close()))
    this.#edge.closed = true
    await this.#edge.runtime.dispose()
  }
}

const definedOnly = (info: SystemInfo): Partial<SystemInfoModule.SystemInfo> => {
  const out: { -readonly [K in keyof SystemInfoModule.SystemInfo]?: SystemInfoModule.SystemInfo[K] } = {}
  if (info.system !== undefined) out.system = info.system
  if (info.version !== undefined) out.version = info.version
  if (info.commitSha !== undefined) out.commitSha = info.commitSha
  if (info.scaleSetId !== undefined) out.scaleSetId = info.scaleSetId
  if (info.subsystem !== undefined) out.subsystem = info.subsystem
  return out
}

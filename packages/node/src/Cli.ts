/**
 * The `scaleset` command: `run` (a ready autoscaler for any runner command), `scale-sets get|delete`,
 * `runners remove` and `simulate`. Credentials and transport settings come from flags or the
 * environment (`SCALESET_*`, see `NodeConfig`); flags win.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as ScaleSetClient from "@scaleset/core/ScaleSetClient"
import { AuthError, InvalidConfigUrl } from "@scaleset/core/ScaleSetError"
import * as Listener from "@scaleset/listener/Listener"
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as HashSet from "effect/HashSet"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { createServer } from "node:http"
import { homedir, hostname } from "node:os"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import { NodeConfigError } from "./NodeError.js"
import * as NodeScaleSet from "./NodeScaleSet.js"
import * as ProcessScaler from "./ProcessScaler.js"
import * as Prometheus from "./internal/prometheus.js"

/**
 * A flag combination that makes no sense (exit code 2, like a flag error).
 *
 * @since 0.1.0
 * @category errors
 */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/** Not found, for `scale-sets get` (exit code 1). */
class NotFound extends Data.TaggedError("NotFound")<{ readonly message: string }> {}

/** The metrics port cannot be listened on (in use, not allowed). */
class MetricsServerError extends Data.TaggedError("MetricsServerError")<{ readonly message: string }> {}

const usage = (message: string) => Effect.fail(new UsageError({ message }))

const checkPort = (flag: string, port: number, min: number) =>
  Number.isInteger(port) && port >= min && port <= 65535
    ? Effect.void
    : usage(`${flag} must be a port number between ${min} and 65535, got ${port}`)

const optionalText = (name: string, description: string) =>
  Options.text(name).pipe(Options.withDescription(description), Options.optional)

const connection = {
  url: optionalText("url", "https://github.com/{org}, …/{owner}/{repo} or …/enterprises/{enterprise} (or SCALESET_URL)"),
  token: Options.redacted("token").pipe(Options.withDescription("personal access token (or SCALESET_TOKEN)"), Options.optional),
  appClientId: optionalText("app-client-id", "GitHub App client id or app id (or SCALESET_APP_CLIENT_ID)"),
  appInstallationId: optionalText("app-installation-id", "GitHub App installation id (or SCALESET_APP_INSTALLATION_ID)"),
  appPrivateKeyFile: optionalText("app-private-key-file", "GitHub App private key PEM file (or SCALESET_APP_PRIVATE_KEY[_FILE])"),
  caFile: optionalText("ca-file", "extra root CA PEM files, comma-separated (or SCALESET_CA_FILE)"),
  proxy: optionalText("proxy", "proxy URL (default: HTTPS_PROXY / HTTP_PROXY / NO_PROXY)"),
  insecureSkipTlsVerify: Options.boolean("insecure-skip-tls-verify").pipe(Options.withDescription("disable TLS verification (testing only)")),
  logFormat: Options.choice("log-format", ["text", "json"]).pipe(
    Options.withDescription("logs on stderr as logfmt (text) or JSON lines"),
    Options.withDefault("text" as const)
  ),
  // also accepted before the subcommand (@effect/cli's own option)
  logLevel: Options.choice("log-level", ["all", "trace", "debug", "info", "warning", "error", "fatal", "none"]).pipe(
    Options.withDescription("the minimum log level (default: info)"),
    Options.optional
  )
}

type ConnectionArgs = {
  readonly url: Option.Option<string>
  readonly token: Option.Option<Redacted.Redacted<string>>
  readonly appClientId: Option.Option<string>
  readonly appInstallationId: Option.Option<string>
  readonly appPrivateKeyFile: Option.Option<string>
  readonly caFile: Option.Option<string>
  readonly proxy: Option.Option<string>
  readonly insecureSkipTlsVerify: boolean
  readonly logFormat: "text" | "json"
  readonly logLevel: Option.Option<"all" | "trace" | "debug" | "info" | "warning" | "error" | "fatal" | "none">
}

/** Flags as `SCALESET_*` settings, in front of the environment. */
const configProvider = (args: ConnectionArgs): ConfigProvider.ConfigProvider => {
  const map = new Map<string, string>()
  const put = (key: string, value: Option.Option<string>) => Option.map(value, (v) => map.set(key, v))
  put("SCALESET_URL", args.url)
  put("SCALESET_TOKEN", Option.map(args.token, Redacted.value))
  put("SCALESET_APP_CLIENT_ID", args.appClientId)
  put("SCALESET_APP_INSTALLATION_ID", args.appInstallationId)
  put("SCALESET_APP_PRIVATE_KEY_FILE", args.appPrivateKeyFile)
  put("SCALESET_CA_FILE", args.caFile)
  put("SCALESET_PROXY", args.proxy)
  if (args.insecureSkipTlsVerify) map.set("SCALESET_INSECURE_SKIP_TLS_VERIFY", "true")
  return ConfigProvider.orElse(ConfigProvider.fromMap(map), () => ConfigProvider.fromEnv())
}

const logLevels = {
  all: LogLevel.All,
  trace: LogLevel.Trace,
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warning: LogLevel.Warning,
  error: LogLevel.Error,
  fatal: LogLevel.Fatal,
  none: LogLevel.None
} as const

/**
 * The only logger: whatever the runtime had (the default one, or the pretty one `runMain` puts
 * in its place) is replaced, so every line is written once, to stderr.
 */
const onlyLogger = (logger: Logger.Logger<unknown, void>) =>
  Layer.scopedDiscard(Effect.locallyScopedWith(FiberRef.currentLoggers, () => HashSet.make(logger)))

/** Structured logs on stderr; stdout is the command's output. */
const logging = (args: ConnectionArgs) =>
  Layer.merge(
    onlyLogger(Logger.withConsoleError(args.logFormat === "json" ? Logger.jsonLogger : Logger.logfmtLogger)),
    Option.match(args.logLevel, { onNone: () => Layer.empty, onSome: (level) => Logger.minimumLogLevel(logLevels[level]) })
  )

/** Runs a handler with the client built from flags and environment. */
const withClient = <A, E, R>(args: ConnectionArgs, effect: Effect.Effect<A, E, R>) =>
  effect.pipe(
    Effect.provide(NodeScaleSet.layerClientConfig),
    Effect.withConfigProvider(configProvider(args)),
    Effect.provide(logging(args))
  )

const printJson = (value: unknown) => Console.log(JSON.stringify(value, (_, v) => (v instanceof Date ? v.toISOString() : v), 2))

const serveMetrics = (port: number) =>
  Effect.acquireRelease(
    Effect.async<ReturnType<typeof createServer>, MetricsServerError>((resume) => {
      const server = createServer((req, res) => {
        if (req.url !== "/metrics") return void res.writeHead(404).end()
        Effect.runPromise(Prometheus.render).then((text) =>
          res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(text)
        )
      })
      server.once("error", (error: NodeJS.ErrnoException) =>
        resume(Effect.fail(
          new MetricsServerError({
            message: `cannot serve metrics on port ${port}: ${
              error.code === "EADDRINUSE" ? "the port is already in use" : error.code ?? error.message
            }`
          })
        )))
      server.listen(port, () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
  ).pipe(
    // port 0 picks a free port: the log line says which
    Effect.tap((server) => Effect.logInfo(`metrics on http://localhost:${(server.address() as AddressInfo).port}/metrics`))
  )

const runCommand = Command.make(
  "run",
  {
    ...connection,
    name: Options.text("name").pipe(Options.withDescription("the scale set (and runs-on label)")),
    labels: optionalText("labels", "labels, comma-separated (default: the name)"),
    runnerGroup: Options.text("runner-group").pipe(
      Options.withDescription("the runner group of the scale set"),
      Options.withDefault(ScaleSetClient.DEFAULT_RUNNER_GROUP)
    ),
    minRunners: Options.integer("min-runners").pipe(Options.withDescription("runners kept up without jobs"), Options.withDefault(0)),
    maxRunners: Options.integer("max-runners").pipe(Options.withDescription("the most runners at once"), Options.withDefault(10)),
    exec: Options.text("exec").pipe(
      Options.withDescription(
        "the runner command (a shell command line), e.g. ./run.sh: its environment has the JIT config in ACTIONS_RUNNER_INPUT_JITCONFIG, which the official runner reads ({jitConfig} in the command is substituted too, but then the secret is visible in ps)"
      )
    ),
    owner: optionalText("owner", "the message session's owner (default: the host name)"),
    deleteOnExit: Options.boolean("delete-on-exit").pipe(Options.withDescription("delete the scale set when stopping")),
    metricsPort: Options.integer("metrics-port").pipe(Options.withDescription("serve Prometheus metrics on this port (0 picks a free port and logs it)"), Options.optional),
    stateFile: optionalText(
      "state-file",
      "where the ids of running runners are kept, so a restart removes the ones a killed run left (default: $XDG_STATE_HOME/scaleset/<scale set id>.json)"
    )
  },
  (args) =>
    withClient(
      args,
      Effect.gen(function*() {
        if (args.maxRunners < 0 || args.minRunners < 0 || args.minRunners > args.maxRunners) {
          return yield* usage("--min-runners and --max-runners must satisfy 0 <= min <= max")
        }
        if (args.exec.trim() === "") return yield* usage("--exec is empty: give the runner command, e.g. --exec ./run.sh")
        // the port first: a port in use fails before anything is created on the service
        if (Option.isSome(args.metricsPort)) {
          yield* checkPort("--metrics-port", args.metricsPort.value, 0)
          yield* serveMetrics(args.metricsPort.value)
        }
        const client = yield* ScaleSetClient.ScaleSetClient
        const group = yield* client.getRunnerGroupByName(args.runnerGroup)
        const labels = Option.match(args.labels, {
          onNone: () => [{ name: args.name }],
          onSome: (text) => text.split(",").map((l) => l.trim()).filter((l) => l !== "").map((name) => ({ name }))
        })
        const scaleSet = yield* client.getOrCreateRunnerScaleSet({ name: args.name, runnerGroupId: group.id, labels })
        const info = yield* client.systemInfo
        yield* client.setSystemInfo({ ...info, system: info.system || "scaleset-cli", scaleSetId: scaleSet.id })
        if (args.deleteOnExit) {
          yield* Effect.addFinalizer(() =>
            client.deleteRunnerScaleSet(scaleSet.id).pipe(
              Effect.tap(() => Effect.logInfo("scale set deleted")),
              Effect.catchAll((e) => Effect.logWarning("the scale set was not deleted", e.message))
            )
          )
        }
        const scaler = yield* ProcessScaler.make({
          scaleSetId: scaleSet.id,
          minRunners: args.minRunners,
          maxRunners: args.maxRunners,
          command: args.exec,
          namePrefix: args.name,
          stateFile: Option.getOrElse(args.stateFile, () =>
            join(process.env.XDG_STATE_HOME || join(homedir(), ".local", "state"), "scaleset", `${scaleSet.id}.json`))
        })
        yield* Effect.logInfo("listening").pipe(Effect.annotateLogs({ scaleSetId: scaleSet.id, name: scaleSet.name }))
        return yield* Listener.runFromClient(scaler, {
          scaleSetId: scaleSet.id,
          owner: Option.getOrElse(args.owner, () => hostname()),
          maxRunners: args.maxRunners,
          labels: { name: scaleSet.name }
        })
      }).pipe(Effect.scoped)
    )
).pipe(Command.withDescription("Autoscale runners of a scale set: one process per runner, started with its JIT config"))

const selector = {
  id: Options.integer("id").pipe(Options.withDescription("the scale set id (or --name)"), Options.optional),
  name: optionalText("name", "the scale set name (or --id)"),
  runnerGroup: Options.text("runner-group").pipe(
    Options.withDescription("the runner group of the scale set named by --name"),
    Options.withDefault(ScaleSetClient.DEFAULT_RUNNER_GROUP)
  )
}

const findScaleSet = (args: { readonly id: Option.Option<number>; readonly name: Option.Option<string>; readonly runnerGroup: string }) =>
  Effect.gen(function*() {
    const client = yield* ScaleSetClient.ScaleSetClient
    if (Option.isSome(args.id) === Option.isSome(args.name)) return yield* new UsageError({ message: "give either --id or --name" })
    if (Option.isSome(args.id)) {
      const found = yield* client.getRunnerScaleSetById(args.id.value)
      return yield* Option.match(found, {
        onNone: () => Effect.fail(new NotFound({ message: "no scale set with this id" })),
        onSome: Effect.succeed
      })
    }
    const name = Option.getOrThrow(args.name)
    const group = yield* client.getRunnerGroupByName(args.runnerGroup)
    const found = yield* client.getRunnerScaleSet(group.id, name)
    return yield* Option.match(found, {
      onNone: () => Effect.fail(new NotFound({ message: `no scale set named ${JSON.stringify(name)} in ${args.runnerGroup}` })),
      onSome: Effect.succeed
    })
  })

const scaleSetsGet = Command.make("get", { ...connection, ...selector }, (args) =>
  withClient(args, Effect.flatMap(findScaleSet(args), printJson))).pipe(Command.withDescription("Print a scale set as JSON"))

const scaleSetsDelete = Command.make("delete", { ...connection, ...selector }, (args) =>
  withClient(
    args,
    Effect.gen(function*() {
      const scaleSet = yield* findScaleSet(args)
      yield* Effect.flatMap(ScaleSetClient.ScaleSetClient, (c) => c.deleteRunnerScaleSet(scaleSet.id))
      yield* Console.log(`deleted scale set ${scaleSet.id} (${scaleSet.name})`)
    })
  )).pipe(Command.withDescription("Delete a scale set"))

const runnersRemove = Command.make("remove", { ...connection, id: Options.integer("id").pipe(Options.withDescription("the runner id")) }, (args) =>
  withClient(
    args,
    Effect.gen(function*() {
      yield* Effect.flatMap(ScaleSetClient.ScaleSetClient, (c) => c.removeRunner(args.id))
      yield* Console.log(`removed runner ${args.id}`)
    })
  )).pipe(Command.withDescription("Remove a runner"))

const simulate = Command.make(
  "simulate",
  {
    port: Options.integer("port").pipe(Options.withDescription("the port to listen on (0 picks a free port)"), Options.withDefault(0)),
    longPollHold: Options.integer("long-poll-hold-seconds").pipe(
      Options.withDescription("how long a message poll waits for a message"),
      Options.withDefault(50)
    ),
    organization: Options.text("organization").pipe(Options.withDescription("the simulated organization"), Options.withDefault("my-org"))
  },
  (args) =>
    Effect.gen(function*() {
      yield* checkPort("--port", args.port, 0)
      if (!(args.longPollHold >= 0)) return yield* usage(`--long-poll-hold-seconds must be 0 or more, got ${args.longPollHold}`)
      // loaded on demand: the other commands do not need the simulator
      const Simulator = yield* Effect.promise(() => import("@scaleset/testing/Simulator"))
      const sim = yield* Simulator.make({
        port: args.port,
        organization: args.organization,
        longPollHold: `${args.longPollHold} seconds`
      })
      yield* Console.log(JSON.stringify({ url: sim.url, token: Redacted.value(sim.pat), serviceUrl: sim.serviceUrl }))
      yield* Console.error(`simulator on ${sim.url}: SCALESET_URL=${sim.url} SCALESET_TOKEN=${Redacted.value(sim.pat)}; Ctrl-C stops it`)
      return yield* Effect.never
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("Run the Actions service simulator in the foreground (local testing)"))

/**
 * @since 0.1.0
 */
export const command = Command.make("scaleset").pipe(
  Command.withDescription("GitHub Actions Runner Scale Sets"),
  Command.withSubcommands([
    runCommand,
    Command.make("scale-sets").pipe(Command.withSubcommands([scaleSetsGet, scaleSetsDelete])),
    Command.make("runners").pipe(Command.withSubcommands([runnersRemove])),
    simulate
  ])
)

/**
 * The exit code for a failure: 2 for usage (flags, configuration: a bad URL, unusable
 * credentials), 1 otherwise.
 *
 * @since 0.1.0
 */
export const exitCode = (error: unknown): number =>
  ValidationError.isValidationError(error) || error instanceof UsageError || error instanceof NodeConfigError ||
    error instanceof InvalidConfigUrl || (error instanceof AuthError && error.step === "credentials")
    ? 2
    : 1

/**
 * Runs the command on `argv` (`process.argv`: `node`, the script, then the arguments): errors are printed (never secrets),
 * and `process.exitCode` is set.
 *
 * @since 0.1.0
 */
export const main = (argv: ReadonlyArray<string>) =>
  Command.run(command, { name: "scaleset", version: "0.1.0" })(argv).pipe(
    Effect.catchAll((error) =>
      Effect.zipRight(
        // @effect/cli prints its own validation errors
        ValidationError.isValidationError(error) ? Effect.void : Console.error(`scaleset: ${error.message}`),
        Effect.sync(() => {
          process.exitCode = exitCode(error)
        })
      )
    ),
    // a bug, not a usage error: its trace on stderr, exit code 1
    Effect.catchAllDefect((defect) =>
      Effect.zipRight(
        Console.error(`scaleset: unexpected error\n${Cause.pretty(Cause.die(defect))}`),
        Effect.sync(() => {
          process.exitCode = 1
        })
      )
    ),
    // logs outside a command's own logger (the simulator's) go to stderr too
    Effect.provide(onlyLogger(Logger.withConsoleError(Logger.logfmtLogger)))
  )

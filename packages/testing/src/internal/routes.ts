/**
 * The simulator's routes: the GitHub REST side (GHES `/api/v3` and hosted `api.` layouts), the
 * Actions service under `/tenant/1/`, the message queue under `/mq/`, and the endpoints simulated
 * runners use under `/_sim/`. Each route has an id (for faults and recorded requests) and a handler
 * from a parsed request to a reply.
 */
import { randomUUID } from "node:crypto"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type { RouteId } from "../Faults.js"
import { type ScaleSetRecord, ServiceException, type SessionRecord, type State, typeNames } from "./state.js"
import type { Tokens } from "./tokens.js"

export interface Reply {
  readonly status: number
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: string
}

export interface Request {
  readonly method: string
  readonly url: URL
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  readonly body: string
  /** Aborted when the client goes away or the simulator stops. */
  readonly signal: AbortSignal
}

export interface RouteContext {
  readonly state: State
  readonly tokens: Tokens
  /** `http://127.0.0.1:PORT` */
  readonly origin: () => string
  /** The Actions service URL, ending in `/`. */
  readonly serviceUrl: () => string
  readonly holdMs: number
  readonly runnerPollMs: number
  /** Pause before packing a message, so that job messages of one moment share it. */
  readonly batchMs: number
}

export interface Route {
  readonly id: RouteId
  readonly handle: (request: Request) => Reply | Promise<Reply>
}

export const TENANT_PATH = "/tenant/1/"
const API_VERSION = "6.0-preview"

// ── replies ──

export const json = (status: number, value: unknown, headers: Readonly<Record<string, string>> = {}): Reply => ({
  status,
  headers: { "Content-Type": "application/json; charset=utf-8", ...headers },
  body: JSON.stringify(value)
})

export const exceptionReply = (e: ServiceException): Reply =>
  json(e.status, { $id: "1", innerException: null, message: e.message, typeName: e.typeName, typeKey: e.typeName.split(".").pop(), errorCode: 0, eventId: 3000 })

const noContent: Reply = { status: 204 }
const unauthorized = (reason: string): Reply => ({
  status: 401,
  headers: { "Content-Type": "text/plain; charset=utf-8", "WWW-Authenticate": "Bearer" },
  body: reason
})
const gitHubError = (status: number, message: string): Reply =>
  json(status, { message, documentation_url: "https://docs.github.com/rest", status: String(status) })

const header = (request: Request, name: string): string | undefined => {
  const value = request.headers[name.toLowerCase()]
  return typeof value === "string" ? value : value?.[0]
}

const bearer = (request: Request): string | undefined => {
  const auth = header(request, "authorization")
  const match = auth === undefined ? null : /^Bearer\s+(.+)$/i.exec(auth)
  return match?.[1]?.trim()
}

const badRequest = (message: string) => new ServiceException(400, typeNames.argument, message)

/** Decodes a JSON body (empty = `{}`) with a Schema; a bad body is a 400 ArgumentException. */
const decodeBody = <A, I>(schema: Schema.Schema<A, I>, request: Request): A => {
  const result = Schema.decodeUnknownEither(Schema.parseJson(schema))(request.body === "" ? "{}" : request.body)
  if (Either.isLeft(result)) {
    throw badRequest(`The request body is not valid: ${ParseResult.TreeFormatter.formatErrorSync(result.left)}`)
  }
  return result.right
}

const intParam = (value: string | undefined, name: string): number => {
  const n = Number(value)
  if (value === undefined || value === "" || !Number.isSafeInteger(n)) throw badRequest(`${name} must be an integer, got ${JSON.stringify(value)}`)
  return n
}

const optionalString = Schema.optional(Schema.NullOr(Schema.String))
const LabelInput = Schema.Struct({ name: Schema.String, type: optionalString })
const ScaleSetInput = Schema.Struct({
  id: Schema.optional(Schema.NullOr(Schema.Number)),
  name: optionalString,
  runnerGroupId: Schema.optional(Schema.NullOr(Schema.Number)),
  runnerGroupName: optionalString,
  labels: Schema.optional(Schema.NullOr(Schema.Array(LabelInput))),
  RunnerSetting: Schema.optional(Schema.NullOr(Schema.Struct({ disableUpdate: Schema.optional(Schema.NullOr(Schema.Boolean)) }))),
  runnerJitConfigUrl: optionalString
})
const RegistrationInput = Schema.Struct({ url: Schema.String, runner_event: Schema.optional(Schema.String) })
const JitInput = Schema.Struct({ name: optionalString, workFolder: optionalString })
const SessionInput = Schema.Struct({ ownerName: optionalString, sessionId: optionalString })
const AcquireInput = Schema.Array(Schema.Number)
const ConnectInput = Schema.Struct({ runnerId: Schema.Number, secret: Schema.String })
const CompleteInput = Schema.Struct({ result: optionalString })

const labelsOf = (labels: ReadonlyArray<{ readonly name: string; readonly type?: string | null | undefined }> | null | undefined) =>
  labels?.map((l) => ({ name: l.name, type: l.type ?? undefined }))

/**
 * The config URL's scope key (`org:…`, `repo:…/…`, `ent:…`), as the registration token path names it.
 */
export const scopeOfUrl = (url: string): string | undefined => {
  if (!URL.canParse(url)) return undefined
  const segments = new URL(url).pathname.split("/").filter((s) => s !== "").map(decodeURIComponent)
  if (segments.length === 1) return `org:${segments[0]!.toLowerCase()}`
  if (segments.length === 2) {
    return segments[0]!.toLowerCase() === "enterprises"
      ? `ent:${segments[1]!.toLowerCase()}`
      : `repo:${segments[0]!.toLowerCase()}/${segments[1]!.toLowerCase()}`
  }
  return undefined
}

/** Waits for a state change, the deadline or an abort, whichever comes first. */
const nextChange = (ctx: RouteContext, deadline: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer)
      unsubscribe()
      signal.removeEventListener("abort", done)
      resolve()
    }
    const timer = setTimeout(done, Math.max(0, deadline - Date.now()))
    const unsubscribe = ctx.state.subscribe(done)
    signal.addEventListener("abort", done)
  })

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export const makeRoutes = (ctx: RouteContext) => {
  const { state, tokens } = ctx

  // ── wire shapes ──
  const scaleSetWire = (ss: ScaleSetRecord) => ({
    id: ss.id,
    name: ss.name,
    runnerGroupId: ss.runnerGroupId,
    runnerGroupName: ss.runnerGroupName,
    labels: ss.labels.map((l) => ({ type: l.type, name: l.name })),
    RunnerSetting: { ephemeral: true, isElastic: true, disableUpdate: ss.disableUpdate },
    createdOn: ss.createdOn.toISOString(),
    runnerJitConfigUrl: `${ctx.serviceUrl()}_apis/runtime/runnerscalesets/${ss.id}/generatejitconfig`,
    statistics: state.statistics(ss.id)
  })
  const runnerWire = (r: { readonly id: number; readonly name: string; readonly scaleSetId: number; readonly status: string }) => ({
    id: r.id,
    name: r.name,
    version: "2.330.0",
    osDescription: "Simulated",
    enabled: true,
    status: r.status === "offline" ? "offline" : "online",
    ephemeral: true,
    runnerScaleSetId: r.scaleSetId
  })
  const sessionWire = async (s: SessionRecord) => ({
    sessionId: s.sessionId,
    ownerName: s.ownerName,
    runnerScaleSet: scaleSetWire(state.scaleSet(s.scaleSetId)),
    messageQueueUrl: `${ctx.origin()}/mq/messages?sessionId=${s.sessionId}`,
    messageQueueAccessToken: await tokens.signQueue({ sessionId: s.sessionId, scaleSetId: s.scaleSetId, generation: s.generation }),
    statistics: state.statistics(s.scaleSetId)
  })

  // ── guards ──
  const admin = async (request: Request, handle: () => Reply | Promise<Reply>): Promise<Reply> => {
    const token = bearer(request)
    if (token === undefined || !(await tokens.verifyAdmin(token))) return unauthorized("The admin token is missing, invalid or expired.")
    if (request.url.searchParams.get("api-version") !== API_VERSION) {
      return exceptionReply(
        new ServiceException(400, "Microsoft.VisualStudio.Services.WebApi.VssInvalidPreviewVersionException", `api-version=${API_VERSION} is required.`)
      )
    }
    return handle()
  }

  /** The queue token's session; a 401 reply when the token is bad, expired or superseded by `expireTokens`. */
  const queueSession = async (request: Request, scaleSetId?: number): Promise<SessionRecord | Reply> => {
    const token = bearer(request)
    const claims = token === undefined ? undefined : await tokens.verifyQueue(token)
    if (claims === undefined) return unauthorized("The message queue token is missing, invalid or expired.")
    if (scaleSetId !== undefined && claims.scaleSetId !== scaleSetId) return unauthorized("The message queue token is for another scale set.")
    const session = state.sessionById(claims.sessionId)
    if (session === undefined) {
      return exceptionReply(new ServiceException(404, typeNames.sessionNotFound, `Session ${claims.sessionId} was not found.`))
    }
    if (claims.generation < session.validFrom) return unauthorized("The message queue token expired.")
    return session
  }
  const isReply = (x: SessionRecord | Reply): x is Reply => "status" in x

  // ── GitHub side ──
  const accessToken = (installationId: string): Route => ({
    id: "app.accessToken",
    handle: async (request) => {
      const jwt = bearer(request)
      if (jwt === undefined) return gitHubError(401, "A JSON web token could not be decoded")
      const problem = await tokens.verifyAppJwt(jwt)
      if (problem !== undefined) return gitHubError(401, problem)
      if (installationId !== String(tokens.installationId)) return gitHubError(404, "Not Found")
      const issued = tokens.issueInstallationToken()
      return json(201, {
        token: issued.token,
        expires_at: new Date(issued.expiresAt).toISOString().replace(/\.\d{3}Z$/, "Z"),
        permissions: { organization_self_hosted_runners: "write" },
        repository_selection: "all"
      })
    }
  })

  const registrationToken = (scope: string): Route => ({
    id: "registrationToken",
    handle: (request) => {
      const token = bearer(request)
      if (token === undefined || !tokens.acceptsGitHubToken(token)) return gitHubError(401, "Bad credentials")
      const issued = tokens.issueRegistrationToken(scope)
      return json(201, { token: issued.token, expires_at: new Date(issued.expiresAt).toISOString().replace(/\.\d{3}Z$/, "Z") })
    }
  })

  const runnerRegistration: Route = {
    id: "runnerRegistration",
    handle: async (request) => {
      const auth = header(request, "authorization") ?? ""
      const match = /^RemoteAuth\s+(.+)$/.exec(auth)
      const scope = match === null ? undefined : tokens.registrationScope(match[1]!.trim())
      if (scope === undefined) return gitHubError(401, "Bad credentials")
      const body = decodeBody(RegistrationInput, request)
      if (scopeOfUrl(body.url) !== scope) {
        return gitHubError(404, `The registration token is not valid for ${body.url}`)
      }
      return json(201, { url: ctx.serviceUrl(), token: await tokens.signAdmin(), token_schema: "OAuthAccessToken" })
    }
  }

  // ── Actions side ──
  const actions = (id: RouteId, handle: (request: Request) => Reply | Promise<Reply>): Route => ({
    id,
    handle: (request) => admin(request, () => handle(request))
  })

  const scaleSetRoutes = (rest: ReadonlyArray<string>, method: string): Route | undefined => {
    if (rest.length === 0) {
      if (method === "GET") {
        return actions("scaleSets.list", (request) => {
          const groupParam = request.url.searchParams.get("runnerGroupId")
          const name = request.url.searchParams.get("name") ?? undefined
          const found = state.findScaleSets(groupParam === null ? undefined : intParam(groupParam, "runnerGroupId"), name)
          return json(200, { count: found.length, value: found.map(scaleSetWire) })
        })
      }
      if (method === "POST") {
        return actions("scaleSets.create", (request) => {
          const input = decodeBody(ScaleSetInput, request)
          const created = state.createScaleSet({
            name: input.name ?? "",
            runnerGroupId: input.runnerGroupId ?? undefined,
            runnerGroupName: input.runnerGroupName ?? undefined,
            labels: labelsOf(input.labels),
            disableUpdate: input.RunnerSetting?.disableUpdate ?? undefined,
            runnerJitConfigUrl: input.runnerJitConfigUrl ?? undefined
          })
          return json(200, scaleSetWire(created))
        })
      }
      return undefined
    }
    const id = Number(rest[0])
    if (!Number.isSafeInteger(id)) return undefined
    if (rest.length === 1) {
      if (method === "GET") return actions("scaleSets.get", () => json(200, scaleSetWire(state.scaleSet(id))))
      if (method === "PATCH") {
        return actions("scaleSets.update", (request) => {
          const input = decodeBody(ScaleSetInput, request)
          const updated = state.updateScaleSet(id, {
            name: input.name ?? undefined,
            runnerGroupId: input.runnerGroupId ?? undefined,
            runnerGroupName: input.runnerGroupName ?? undefined,
            labels: labelsOf(input.labels),
            disableUpdate: input.RunnerSetting?.disableUpdate ?? undefined
          })
          return json(200, scaleSetWire(updated))
        })
      }
      if (method === "DELETE") {
        return actions("scaleSets.delete", () => {
          state.deleteScaleSet(id)
          return noContent
        })
      }
      return undefined
    }
    const [, sub, sessionId] = rest
    if (sub === "generatejitconfig" && rest.length === 2 && method === "POST") {
      return actions("generateJitConfig", (request) => {
        const input = decodeBody(JitInput, request)
        state.scaleSet(id)
        const runner = state.registerRunner(id, input.name ?? "")
        const config = {
          simulatorUrl: ctx.origin(),
          runnerId: runner.id,
          runnerName: runner.name,
          scaleSetId: id,
          secret: runner.secret,
          workFolder: input.workFolder || "_work"
        }
        return json(200, {
          runner: runnerWire(runner),
          encodedJITConfig: Buffer.from(JSON.stringify(config)).toString("base64")
        })
      })
    }
    if (sub === "acquirejobs" && rest.length === 2 && method === "POST") {
      return {
        id: "acquireJobs",
        handle: async (request) => {
          const session = await queueSession(request, id)
          if (isReply(session)) return session
          if (request.url.searchParams.get("api-version") !== API_VERSION) throw badRequest(`api-version=${API_VERSION} is required.`)
          const acquired = state.acquireJobs(id, decodeBody(AcquireInput, request))
          return json(200, { count: acquired.length, value: acquired })
        }
      }
    }
    if (sub === "sessions") {
      if (rest.length === 2 && method === "POST") {
        return actions("sessions.create", async (request) => {
          const input = decodeBody(SessionInput, request)
          const session = state.createSession(id, input.ownerName ?? "")
          return json(200, await sessionWire(session))
        })
      }
      if (rest.length === 3 && sessionId !== undefined && method === "PATCH") {
        return actions("sessions.refresh", async () => {
          const session = state.session(id, sessionId)
          state.refreshSession(session)
          return json(200, await sessionWire(session))
        })
      }
      if (rest.length === 3 && sessionId !== undefined && method === "DELETE") {
        return actions("sessions.delete", () => {
          state.session(id, sessionId)
          state.deleteSession(sessionId)
          return noContent
        })
      }
    }
    return undefined
  }

  const agentRoutes = (rest: ReadonlyArray<string>, method: string): Route | undefined => {
    if (rest.length === 0 && method === "GET") {
      return actions("runners.list", (request) => {
        const name = request.url.searchParams.get("agentName")
        const found = name === null ? state.runners() : state.runnersByName(name)
        return json(200, { count: found.length, value: found.map(runnerWire) })
      })
    }
    const id = Number(rest[0])
    if (rest.length !== 1 || !Number.isSafeInteger(id)) return undefined
    if (method === "GET") return actions("runners.get", () => json(200, runnerWire(state.runner(id))))
    if (method === "DELETE") {
      return actions("runners.remove", () => {
        state.removeRunner(id)
        return noContent
      })
    }
    return undefined
  }

  // ── the message queue ──
  const getMessage: Route = {
    id: "messages.get",
    handle: async (request) => {
      const session = await queueSession(request)
      if (isReply(session)) return session
      if (request.url.searchParams.get("sessionId") !== session.sessionId) return unauthorized("The token is for another session.")
      if (!(header(request, "accept") ?? "").includes(`api-version=${API_VERSION}`)) {
        throw badRequest(`Accept must carry api-version=${API_VERSION}.`)
      }
      const capacityHeader = header(request, "x-scalesetmaxcapacity")
      if (capacityHeader !== undefined) {
        const capacity = Number(capacityHeader)
        if (!Number.isSafeInteger(capacity) || capacity < 0) throw badRequest(`X-ScaleSetMaxCapacity must be a non-negative integer.`)
        state.setMaxCapacity(session, capacity)
      }
      const lastParam = request.url.searchParams.get("lastMessageId")
      const last = lastParam === null ? 0 : intParam(lastParam, "lastMessageId")
      const deadline = Date.now() + ctx.holdMs
      const done = state.polling(session)
      try {
        for (;;) {
          if (state.sessionById(session.sessionId) === undefined) {
            return exceptionReply(new ServiceException(404, typeNames.sessionNotFound, `Session ${session.sessionId} was not found.`))
          }
          const message = state.nextMessage(session.scaleSetId, last)
          if (message !== undefined) return json(200, message)
          if (Date.now() >= deadline || request.signal.aborted) return { status: 202 }
          await nextChange(ctx, deadline, request.signal)
          if (ctx.batchMs > 0) await sleep(ctx.batchMs)
        }
      } finally {
        done()
      }
    }
  }

  const deleteMessage = (messageId: string): Route => ({
    id: "messages.delete",
    handle: async (request) => {
      const session = await queueSession(request)
      if (isReply(session)) return session
      state.ackMessage(session.scaleSetId, intParam(messageId, "messageId"))
      return noContent
    }
  })

  // ── simulated runners ──
  const runnerToken = (request: Request) => bearer(request) ?? ""
  const runnerConnect: Route = {
    id: "runner.connect",
    handle: (request) => {
      const input = decodeBody(ConnectInput, request)
      return json(200, state.connectRunner(input.runnerId, input.secret))
    }
  }
  const runnerJob = (id: number): Route => ({
    id: "runner.job",
    handle: async (request) => {
      const deadline = Date.now() + ctx.runnerPollMs
      for (;;) {
        const assignment = state.runnerAssignment(id, runnerToken(request))
        if (assignment !== undefined) return json(200, assignment)
        if (Date.now() >= deadline || request.signal.aborted) return noContent
        await nextChange(ctx, deadline, request.signal)
      }
    }
  })
  const runnerComplete = (id: number): Route => ({
    id: "runner.complete",
    handle: (request) => {
      const input = decodeBody(CompleteInput, request)
      state.completeRunnerJob(id, runnerToken(request), input.result ?? undefined)
      return noContent
    }
  })

  const runnerDisconnect = (id: number): Route => ({
    id: "runner.disconnect",
    handle: (request) => {
      state.disconnectRunner(id, runnerToken(request))
      return noContent
    }
  })

  const notFound: Route = { id: "notFound", handle: () => gitHubError(404, "Not Found") }

  /** The GitHub REST routes, `path` without the `/api/v3` prefix. */
  const gitHub = (segments: ReadonlyArray<string>, method: string): Route | undefined => {
    if (method !== "POST") return undefined
    const s = segments
    if (s.length === 4 && s[0] === "app" && s[1] === "installations" && s[3] === "access_tokens") return accessToken(s[2]!)
    if (s.length === 2 && s[0] === "actions" && s[1] === "runner-registration") return runnerRegistration
    const tail = s.slice(-3).join("/")
    if (tail !== "actions/runners/registration-token") return undefined
    if (s.length === 5 && s[0] === "orgs") return registrationToken(`org:${s[1]!.toLowerCase()}`)
    if (s.length === 6 && s[0] === "repos") return registrationToken(`repo:${s[1]!.toLowerCase()}/${s[2]!.toLowerCase()}`)
    if (s.length === 5 && s[0] === "enterprises") return registrationToken(`ent:${s[1]!.toLowerCase()}`)
    return undefined
  }

  /** Finds the route of a request. */
  const resolve = (method: string, url: URL, host: string): Route => {
    const segments = url.pathname.split("/").filter((s) => s !== "").map((s) => decodeURIComponent(s))
    if (host.toLowerCase().startsWith("api.")) return gitHub(segments, method) ?? notFound
    const [first, second, ...rest] = segments
    if (first === "api" && second === "v3") return gitHub(segments.slice(2), method) ?? notFound
    if (first === "tenant" && second === "1" && rest[0] === "_apis") {
      const [, area, kind, ...tail] = rest
      if (area === "runtime" && kind === "runnerscalesets") return scaleSetRoutes(tail, method) ?? notFound
      if (area === "runtime" && kind === "runnergroups" && tail.length === 0 && method === "GET") {
        return actions("runnerGroups.list", (request) => {
          const groups = state.runnerGroups(request.url.searchParams.get("groupName") ?? undefined)
          return json(200, { count: groups.length, value: groups })
        })
      }
      if (area === "distributedtask" && kind === "pools" && tail[0] === "0" && tail[1] === "agents") {
        return agentRoutes(tail.slice(2), method) ?? notFound
      }
      return notFound
    }
    if (first === "mq" && second === "messages") {
      if (rest.length === 0 && method === "GET") return getMessage
      if (rest.length === 1 && method === "DELETE") return deleteMessage(rest[0]!)
      return notFound
    }
    if (first === "_sim" && second === "runners") {
      if (rest.length === 1 && rest[0] === "connect" && method === "POST") return runnerConnect
      const id = Number(rest[0])
      if (rest.length === 2 && Number.isSafeInteger(id)) {
        if (rest[1] === "job" && method === "GET") return runnerJob(id)
        if (rest[1] === "complete" && method === "POST") return runnerComplete(id)
        if (rest[1] === "disconnect" && method === "POST") return runnerDisconnect(id)
      }
    }
    return notFound
  }

  return { resolve }
}

/** Correlation headers the real services send. */
export const correlationHeaders = (route: RouteId): Record<string, string> =>
  route === "app.accessToken" || route === "registrationToken" || route === "runnerRegistration"
    ? { "X-GitHub-Request-Id": randomUUID().slice(0, 18).toUpperCase() }
    : { ActivityId: randomUUID() }

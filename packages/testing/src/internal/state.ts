/**
 * The simulator's in-memory service: runner groups, scale sets, runners, sessions, message queues
 * and the job model. Plain mutable state on one event loop, no I/O: the HTTP routes and the
 * in-memory test client both drive it. Failures are thrown as `ServiceException`s, which the
 * routes render as the service's exception bodies.
 */
import { randomBytes, randomUUID } from "node:crypto"
import {
  type EnqueueJobsOptions,
  type Job,
  type JobState,
  MAX_REQUEUES,
  type Runner,
  type Statistics,
  ZERO_TIME
} from "../JobModel.js"

/** An exception as the service answers it: `{"typeName", "message"}` with a status. */
export class ServiceException extends Error {
  constructor(readonly status: number, readonly typeName: string, message: string) {
    super(message)
  }
}

export const typeNames = {
  agentExists: "GitHub.DistributedTask.WebApi.AgentExistsException",
  agentNotFound: "GitHub.DistributedTask.WebApi.AgentNotFoundException",
  jobStillRunning: "GitHub.DistributedTask.WebApi.JobStillRunningException",
  sessionConflict: "GitHub.DistributedTask.WebApi.TaskAgentSessionConflictException",
  sessionNotFound: "GitHub.DistributedTask.WebApi.TaskAgentSessionExpiredException",
  scaleSetNotFound: "GitHub.Actions.Runtime.WebApi.RunnerScaleSetNotFoundException",
  scaleSetExists: "GitHub.Actions.Runtime.WebApi.RunnerScaleSetExistsException",
  runnerGroupNotFound: "GitHub.DistributedTask.WebApi.RunnerGroupNotFoundException",
  argument: "System.ArgumentException"
} as const

export interface Label {
  readonly name: string
  readonly type: string
}

export interface RunnerGroupRecord {
  readonly id: number
  readonly name: string
  readonly isDefaultGroup: boolean
}

interface QueuedMessage {
  readonly id: number
  readonly jobs: ReadonlyArray<Record<string, unknown>>
}

export interface ScaleSetRecord {
  readonly id: number
  name: string
  runnerGroupId: number
  runnerGroupName: string
  labels: ReadonlyArray<Label>
  disableUpdate: boolean
  runnerJitConfigUrl: string | undefined
  readonly createdOn: Date
  /** Job messages not yet packed into a message. */
  readonly pending: Array<Record<string, unknown>>
  /** Delivered or ready messages, not yet acknowledged. */
  readonly messages: Array<QueuedMessage>
  nextMessageId: number
}

export interface SessionRecord {
  readonly sessionId: string
  readonly scaleSetId: number
  readonly ownerName: string
  /** Queue tokens carry a generation; those below `validFrom` are refused. */
  generation: number
  validFrom: number
  maxCapacity: number | undefined
  /** Held by `holdSession`, not by a client. */
  readonly held: boolean
  readonly createdAt: Date
  /** When the client last polled or refreshed (ms since the epoch), and its polls in flight. */
  lastSeen: number
  polling: number
}

interface RunnerRecord {
  readonly id: number
  readonly name: string
  readonly scaleSetId: number
  status: "offline" | "idle" | "busy"
  jobId: string | undefined
  /** The one-time secret of the JIT config; cleared once redeemed. */
  secret: string | undefined
  /** The runner's token after redeeming. */
  token: string | undefined
}

interface JobRecord {
  readonly jobId: string
  readonly order: number
  runnerRequestId: number
  state: JobState
  readonly labels: ReadonlyArray<string>
  readonly durationMs: number
  readonly plannedResult: string
  result: string | undefined
  scaleSetId: number | undefined
  runnerId: number | undefined
  runnerName: string | undefined
  cancellations: number
  readonly repositoryName: string
  readonly ownerName: string
  readonly jobDisplayName: string
  readonly workflowRunId: number
  readonly eventName: string
  readonly queueTime: Date
  scaleSetAssignTime: Date | undefined
  runnerAssignTime: Date | undefined
  finishTime: Date | undefined
  timer: ReturnType<typeof setTimeout> | undefined
}

export interface QueueMessage {
  readonly messageId: number
  readonly messageType: "RunnerScaleSetJobMessages"
  readonly body: string
  readonly statistics: Statistics
}

/** What a connected runner is told to run. */
export interface RunnerAssignment {
  readonly jobId: string
  readonly runnerRequestId: number
  readonly durationMs: number
  readonly result: string
  readonly jobDisplayName: string
}

export interface StateOptions {
  readonly runnerGroups: ReadonlyArray<{ readonly name: string; readonly id?: number | undefined }>
  /** An assignment (offered or acquired) not started within this is canceled and requeued. */
  readonly assignmentTimeoutMs: number
  /** The Actions service URL, ending in `/` (for `runnerJitConfigUrl` and `acquireJobUrl`). */
  readonly serviceUrl: () => string
  readonly defaultOwner: string
  readonly defaultRepository: string
  /** A client session neither polled nor refreshed for this long is deleted (0: never). */
  readonly sessionIdleTimeoutMs?: number | undefined
}

const MAX_JOBS_PER_MESSAGE = 50

const time = (d: Date | undefined) => (d === undefined ? ZERO_TIME : d.toISOString())

export const makeState = (options: StateOptions) => {
  const groups: Array<RunnerGroupRecord> = [{ id: 1, name: "default", isDefaultGroup: true }]
  let nextGroupId = 2
  for (const g of options.runnerGroups) {
    const id = g.id ?? nextGroupId
    nextGroupId = Math.max(nextGroupId, id + 1)
    groups.push({ id, name: g.name, isDefaultGroup: false })
  }
  const scaleSets = new Map<number, ScaleSetRecord>()
  const sessions = new Map<string, SessionRecord>()
  const runners = new Map<number, RunnerRecord>()
  const jobs = new Map<string, JobRecord>()
  let nextScaleSetId = 1
  let nextRunnerId = 1
  let nextRequestId = 1
  let nextJobNumber = 1
  let disposed = false

  // ── change notification: long polls and waiters re-check on every change ──
  const listeners = new Set<() => void>()
  const changed = () => {
    for (const listener of [...listeners]) listener()
  }
  const subscribe = (listener: () => void): (() => void) => {
    listeners.add(listener)
    return () => listeners.delete(listener)
  }

  // ── lookups ──
  const scaleSet = (id: number): ScaleSetRecord => {
    const found = scaleSets.get(id)
    if (found === undefined) {
      throw new ServiceException(404, typeNames.scaleSetNotFound, `Runner scale set ${id} not found.`)
    }
    return found
  }
  const runner = (id: number): RunnerRecord => {
    const found = runners.get(id)
    if (found === undefined) throw new ServiceException(404, typeNames.agentNotFound, `Agent ${id} not found.`)
    return found
  }
  const sessionOf = (scaleSetId: number) => [...sessions.values()].find((s) => s.scaleSetId === scaleSetId)

  const statistics = (scaleSetId: number): Statistics => {
    let available = 0, acquired = 0, running = 0
    for (const job of jobs.values()) {
      if (job.scaleSetId !== scaleSetId) continue
      if (job.state === "available") available++
      else if (job.state === "assigned") acquired++
      else if (job.state === "running") running++
    }
    let registered = 0, busy = 0, idle = 0
    for (const r of runners.values()) {
      if (r.scaleSetId !== scaleSetId) continue
      registered++
      if (r.status === "busy") busy++
      else if (r.status === "idle") idle++
    }
    return {
      totalAvailableJobs: available,
      totalAcquiredJobs: acquired,
      totalAssignedJobs: acquired + running,
      totalRunningJobs: running,
      totalRegisteredRunners: registered,
      totalBusyRunners: busy,
      totalIdleRunners: idle
    }
  }

  // ── job messages ──
  const jobMessage = (
    job: JobRecord,
    messageType: "JobAvailable" | "JobAssigned" | "JobStarted" | "JobCompleted",
    extra: Record<string, unknown> = {}
  ): Record<string, unknown> => ({
    messageType,
    runnerRequestId: job.runnerRequestId,
    repositoryName: job.repositoryName,
    ownerName: job.ownerName,
    jobId: job.jobId,
    jobWorkflowRef: `${job.ownerName}/${job.repositoryName}/.github/workflows/ci.yml@refs/heads/main`,
    jobDisplayName: job.jobDisplayName,
    workflowRunId: job.workflowRunId,
    eventName: job.eventName,
    requestLabels: job.labels,
    queueTime: time(job.queueTime),
    scaleSetAssignTime: time(job.scaleSetAssignTime),
    runnerAssignTime: time(job.runnerAssignTime),
    finishTime: time(job.finishTime),
    ...extra
  })
  const post = (scaleSetId: number, message: Record<string, unknown>) => {
    scaleSets.get(scaleSetId)?.pending.push(message)
  }

  // ── the job model ──
  const matches = (job: JobRecord, ss: ScaleSetRecord) =>
    job.labels.every((l) => ss.labels.some((s) => s.name.toLowerCase() === l.toLowerCase()))
  const load = (scaleSetId: number) => {
    let n = 0
    for (const job of jobs.values()) {
      if (job.scaleSetId === scaleSetId && (job.state === "available" || job.state === "assigned" || job.state === "running")) n++
    }
    return n
  }
  const hasCapacity = (ss: ScaleSetRecord) => {
    const capacity = sessionOf(ss.id)?.maxCapacity
    return capacity === undefined || load(ss.id) < capacity
  }

  const cancelAssignment = (job: JobRecord) => {
    job.timer = undefined
    if (job.state !== "available" && job.state !== "assigned") return
    const scaleSetId = job.scaleSetId
    job.cancellations++
    const final = job.cancellations > MAX_REQUEUES
    if (final) {
      job.state = "completed"
      job.result = "canceled"
      job.finishTime = new Date()
    }
    if (scaleSetId !== undefined) post(scaleSetId, jobMessage(job, "JobCompleted", { result: "canceled", runnerId: 0, runnerName: "" }))
    if (!final) {
      job.state = "queued"
      job.scaleSetId = undefined
      job.scaleSetAssignTime = undefined
    }
    pump()
    changed()
  }

  const clearTimer = (job: JobRecord) => {
    if (job.timer !== undefined) clearTimeout(job.timer)
    job.timer = undefined
  }

  /** Offers queued jobs to matching scale sets and starts assigned jobs on idle runners. */
  const pump = () => {
    if (disposed) return
    const ordered = [...jobs.values()].sort((a, b) => a.order - b.order)
    for (const job of ordered) {
      if (job.state !== "queued") continue
      const target = [...scaleSets.values()].find((ss) => matches(job, ss) && hasCapacity(ss))
      if (target === undefined) continue
      job.state = "available"
      job.scaleSetId = target.id
      job.runnerRequestId = nextRequestId++
      post(target.id, jobMessage(job, "JobAvailable", {
        acquireJobUrl: `${options.serviceUrl()}_apis/runtime/runnerscalesets/${target.id}/acquirejobs`
      }))
      job.timer = setTimeout(() => cancelAssignment(job), options.assignmentTimeoutMs)
    }
    for (const ss of scaleSets.values()) {
      const idle = [...runners.values()].filter((r) => r.scaleSetId === ss.id && r.status === "idle").sort((a, b) => a.id - b.id)
      const waiting = ordered.filter((j) => j.scaleSetId === ss.id && j.state === "assigned")
      for (let i = 0; i < Math.min(idle.length, waiting.length); i++) {
        const r = idle[i]!
        const job = waiting[i]!
        clearTimer(job)
        job.state = "running"
        job.runnerId = r.id
        job.runnerName = r.name
        job.runnerAssignTime = new Date()
        r.status = "busy"
        r.jobId = job.jobId
        post(ss.id, jobMessage(job, "JobStarted", { runnerId: r.id, runnerName: r.name }))
      }
    }
  }

  const mutate = <A>(f: () => A): A => {
    const a = f()
    pump()
    changed()
    return a
  }

  const jobSnapshot = (j: JobRecord): Job => ({
    jobId: j.jobId,
    runnerRequestId: j.runnerRequestId,
    state: j.state,
    labels: [...j.labels],
    durationMs: j.durationMs,
    plannedResult: j.plannedResult,
    result: j.result,
    scaleSetId: j.scaleSetId,
    runnerId: j.runnerId,
    runnerName: j.runnerName,
    cancellations: j.cancellations,
    repositoryName: j.repositoryName,
    ownerName: j.ownerName,
    jobDisplayName: j.jobDisplayName,
    workflowRunId: j.workflowRunId,
    eventName: j.eventName,
    queueTime: j.queueTime,
    scaleSetAssignTime: j.scaleSetAssignTime,
    runnerAssignTime: j.runnerAssignTime,
    finishTime: j.finishTime
  })

  const runnerSnapshot = (r: RunnerRecord): Runner => ({
    id: r.id,
    name: r.name,
    scaleSetId: r.scaleSetId,
    status: r.status,
    jobId: r.jobId
  })

  const removeRunnerRecord = (r: RunnerRecord) => {
    runners.delete(r.id)
  }

  const connected = (id: number, token: string): RunnerRecord => {
    const r = runners.get(id)
    if (r === undefined) throw new ServiceException(410, typeNames.agentNotFound, `Agent ${id} was removed.`)
    if (r.token === undefined || r.token !== token) throw new ServiceException(401, "UnauthorizedException", "Bad runner token.")
    return r
  }

  const finish = (r: RunnerRecord, job: JobRecord, result: string) => {
    job.state = "completed"
    job.result = result
    job.finishTime = new Date()
    if (job.scaleSetId !== undefined) {
      post(job.scaleSetId, jobMessage(job, "JobCompleted", { result, runnerId: r.id, runnerName: r.name }))
    }
    removeRunnerRecord(r)
  }

  const group = (input: { readonly id?: number | undefined; readonly name?: string | undefined }): RunnerGroupRecord => {
    const found = input.id !== undefined && input.id !== 0
      ? groups.find((g) => g.id === input.id)
      : input.name
      ? groups.find((g) => g.name.toLowerCase() === input.name!.toLowerCase())
      : groups[0]
    if (found === undefined) {
      throw new ServiceException(404, typeNames.runnerGroupNotFound, `Runner group ${input.id ?? input.name} not found.`)
    }
    return found
  }

  const checkUniqueName = (groupId: number, name: string, except?: number) => {
    for (const ss of scaleSets.values()) {
      if (ss.runnerGroupId === groupId && ss.name.toLowerCase() === name.toLowerCase() && ss.id !== except) {
        throw new ServiceException(
          409,
          typeNames.scaleSetExists,
          `A runner scale set named ${name} already exists in runner group ${groupId}.`
        )
      }
    }
  }

  const idleTimeout = options.sessionIdleTimeoutMs ?? 0
  const sweeper = idleTimeout > 0
    ? setInterval(() => {
      const now = Date.now()
      const idle = [...sessions.values()].filter((s) => !s.held && s.polling === 0 && now - s.lastSeen > idleTimeout)
      if (idle.length === 0) return
      for (const s of idle) sessions.delete(s.sessionId)
      changed()
    }, Math.min(1_000, idleTimeout)).unref()
    : undefined

  return {
    subscribe,
    changed,
    statistics,
    dispose: () => {
      disposed = true
      if (sweeper !== undefined) clearInterval(sweeper)
      for (const job of jobs.values()) clearTimer(job)
      listeners.clear()
    },

    // ── runner groups ──
    runnerGroups: (name?: string) =>
      groups.filter((g) => name === undefined || g.name.toLowerCase() === name.toLowerCase()).map((g) => ({
        ...g,
        size: [...runners.values()].filter((r) => scaleSets.get(r.scaleSetId)?.runnerGroupId === g.id).length
      })),
    addRunnerGroup: (name: string) =>
      mutate(() => {
        const g = { id: nextGroupId++, name, isDefaultGroup: false }
        groups.push(g)
        return g
      }),

    // ── scale sets ──
    scaleSet,
    scaleSets: () => [...scaleSets.values()],
    findScaleSets: (runnerGroupId: number | undefined, name: string | undefined) =>
      [...scaleSets.values()].filter((ss) =>
        (runnerGroupId === undefined || ss.runnerGroupId === runnerGroupId) &&
        (name === undefined || ss.name.toLowerCase() === name.toLowerCase())
      ),
    createScaleSet: (input: {
      readonly name: string
      readonly runnerGroupId?: number | undefined
      readonly runnerGroupName?: string | undefined
      readonly labels?: ReadonlyArray<{ readonly name: string; readonly type?: string | undefined }> | undefined
      readonly disableUpdate?: boolean | undefined
      readonly runnerJitConfigUrl?: string | undefined
    }) =>
      mutate(() => {
        if (input.name.trim() === "") throw new ServiceException(400, typeNames.argument, "The runner scale set name is required.")
        const g = group({ id: input.runnerGroupId, name: input.runnerGroupName })
        checkUniqueName(g.id, input.name)
        const labels = input.labels && input.labels.length > 0
          ? input.labels.map((l) => ({ name: l.name, type: l.type || "System" }))
          : [{ name: input.name, type: "System" }]
        const record: ScaleSetRecord = {
          id: nextScaleSetId++,
          name: input.name,
          runnerGroupId: g.id,
          runnerGroupName: g.name,
          labels,
          disableUpdate: input.disableUpdate ?? false,
          runnerJitConfigUrl: input.runnerJitConfigUrl,
          createdOn: new Date(),
          pending: [],
          messages: [],
          nextMessageId: 1
        }
        scaleSets.set(record.id, record)
        return record
      }),
    updateScaleSet: (id: number, patch: {
      readonly name?: string | undefined
      readonly runnerGroupId?: number | undefined
      readonly runnerGroupName?: string | undefined
      readonly labels?: ReadonlyArray<{ readonly name: string; readonly type?: string | undefined }> | undefined
      readonly disableUpdate?: boolean | undefined
    }) =>
      mutate(() => {
        const ss = scaleSet(id)
        const g = patch.runnerGroupId || patch.runnerGroupName
          ? group({ id: patch.runnerGroupId, name: patch.runnerGroupName })
          : group({ id: ss.runnerGroupId })
        const name = patch.name || ss.name
        checkUniqueName(g.id, name, id)
        ss.name = name
        ss.runnerGroupId = g.id
        ss.runnerGroupName = g.name
        if (patch.labels && patch.labels.length > 0) {
          ss.labels = patch.labels.map((l) => ({ name: l.name, type: l.type || "System" }))
        }
        if (patch.disableUpdate !== undefined) ss.disableUpdate = patch.disableUpdate
        return ss
      }),
    deleteScaleSet: (id: number) =>
      mutate(() => {
        scaleSet(id)
        scaleSets.delete(id)
        for (const s of [...sessions.values()]) if (s.scaleSetId === id) sessions.delete(s.sessionId)
        for (const r of [...runners.values()]) if (r.scaleSetId === id) removeRunnerRecord(r)
        for (const job of jobs.values()) {
          if (job.scaleSetId !== id) continue
          if (job.state === "running") {
            job.state = "completed"
            job.result = "canceled"
            job.finishTime = new Date()
          } else if (job.state === "available" || job.state === "assigned") {
            clearTimer(job)
            job.state = "queued"
            job.scaleSetId = undefined
            job.scaleSetAssignTime = undefined
          }
        }
      }),

    // ── runners ──
    runner,
    runners: () => [...runners.values()].map(runnerSnapshot),
    runnersByName: (name: string) => [...runners.values()].filter((r) => r.name.toLowerCase() === name.toLowerCase()),
    /** Registers a runner offline (a JIT config); the secret redeems it. */
    registerRunner: (scaleSetId: number, requestedName: string) =>
      mutate(() => {
        const ss = scaleSet(scaleSetId)
        const name = requestedName.trim() !== "" ? requestedName : `${ss.name}-${randomBytes(4).toString("hex")}`
        if ([...runners.values()].some((r) => r.name.toLowerCase() === name.toLowerCase())) {
          throw new ServiceException(409, typeNames.agentExists, `A runner with the name ${name} already exists.`)
        }
        const record: RunnerRecord = {
          id: nextRunnerId++,
          name,
          scaleSetId,
          status: "offline",
          jobId: undefined,
          secret: randomBytes(16).toString("hex"),
          token: undefined
        }
        runners.set(record.id, record)
        return record
      }),
    /** Removes a runner: 204 also when absent; a busy runner refuses. */
    removeRunner: (id: number) =>
      mutate(() => {
        const r = runners.get(id)
        if (r === undefined) return
        if (r.status === "busy") {
          throw new ServiceException(400, typeNames.jobStillRunning, `Agent ${id} is running job ${r.jobId}; it cannot be removed.`)
        }
        removeRunnerRecord(r)
      }),
    /** A runner redeems its JIT config: one time only. */
    connectRunner: (id: number, secret: string) =>
      mutate(() => {
        const r = runners.get(id)
        if (r === undefined) throw new ServiceException(404, typeNames.agentNotFound, `Agent ${id} not found.`)
        if (r.secret === undefined || r.secret !== secret) {
          throw new ServiceException(401, "UnauthorizedException", "The JIT configuration was already used or is not valid.")
        }
        r.secret = undefined
        r.token = randomBytes(16).toString("hex")
        r.status = "idle"
        return { id: r.id, name: r.name, token: r.token }
      }),
    /** The job a connected runner should run, if it has one; throws 410 once the runner is gone. */
    runnerAssignment: (id: number, token: string): RunnerAssignment | undefined => {
      const r = runners.get(id)
      if (r === undefined) throw new ServiceException(410, typeNames.agentNotFound, `Agent ${id} was removed.`)
      if (r.token === undefined || r.token !== token) throw new ServiceException(401, "UnauthorizedException", "Bad runner token.")
      if (r.jobId === undefined) return undefined
      const job = jobs.get(r.jobId)
      return job === undefined ? undefined : {
        jobId: job.jobId,
        runnerRequestId: job.runnerRequestId,
        durationMs: job.durationMs,
        result: job.plannedResult,
        jobDisplayName: job.jobDisplayName
      }
    },
    /** The runner finished its job: the job completes, the ephemeral runner is deregistered. */
    completeRunnerJob: (id: number, token: string, result: string | undefined) =>
      mutate(() => {
        const r = connected(id, token)
        const job = r.jobId === undefined ? undefined : jobs.get(r.jobId)
        if (job === undefined || job.state !== "running") {
          throw new ServiceException(400, typeNames.argument, `Agent ${id} has no running job.`)
        }
        finish(r, job, result ?? job.plannedResult)
      }),
    /**
     * The runner stops early (killed): its running job completes `canceled` and the runner is
     * deregistered; an idle runner just goes offline (it stays registered until removed).
     */
    disconnectRunner: (id: number, token: string) =>
      mutate(() => {
        const r = connected(id, token)
        const job = r.jobId === undefined ? undefined : jobs.get(r.jobId)
        if (job !== undefined && job.state === "running") return finish(r, job, "canceled")
        r.status = "offline"
        r.token = undefined
      }),

    // ── sessions ──
    sessions: () => [...sessions.values()],
    session: (scaleSetId: number, sessionId: string) => {
      const s = sessions.get(sessionId)
      if (s === undefined || s.scaleSetId !== scaleSetId) {
        throw new ServiceException(404, typeNames.sessionNotFound, `Session ${sessionId} was not found.`)
      }
      return s
    },
    sessionById: (sessionId: string) => sessions.get(sessionId),
    createSession: (scaleSetId: number, ownerName: string, held = false) =>
      mutate(() => {
        scaleSet(scaleSetId)
        const existing = sessionOf(scaleSetId)
        if (existing !== undefined) {
          throw new ServiceException(
            409,
            typeNames.sessionConflict,
            `The scale set ${scaleSetId} already has an active session for owner ${existing.ownerName}.`
          )
        }
        const record: SessionRecord = {
          sessionId: randomUUID(),
          scaleSetId,
          ownerName,
          generation: 1,
          validFrom: 1,
          maxCapacity: undefined,
          held,
          createdAt: new Date(),
          lastSeen: Date.now(),
          polling: 0
        }
        sessions.set(record.sessionId, record)
        return record
      }),
    /** A new queue token generation. */
    refreshSession: (s: SessionRecord) =>
      mutate(() => {
        s.generation = Math.max(s.generation, s.validFrom) + 1
        s.lastSeen = Date.now()
        return s.generation
      }),
    /** Marks a poll of the session in flight; the returned function ends it. */
    polling: (s: SessionRecord): (() => void) => {
      s.polling++
      s.lastSeen = Date.now()
      return () => {
        s.polling--
        s.lastSeen = Date.now()
      }
    },
    deleteSession: (sessionId: string) => mutate(() => sessions.delete(sessionId)),
    /** Every queue token issued so far is refused from now on. */
    expireQueueTokens: () =>
      mutate(() => {
        for (const s of sessions.values()) s.validFrom = s.generation + 1
      }),
    setMaxCapacity: (s: SessionRecord, capacity: number) => {
      if (s.maxCapacity !== capacity) mutate(() => (s.maxCapacity = capacity))
    },

    // ── the message queue ──
    /** The oldest unacknowledged message after `lastMessageId`, packing pending job messages if none. */
    nextMessage: (scaleSetId: number, lastMessageId: number): QueueMessage | undefined => {
      const ss = scaleSet(scaleSetId)
      let message = ss.messages.find((m) => m.id > lastMessageId)
      if (message === undefined && ss.pending.length > 0) {
        message = { id: ss.nextMessageId++, jobs: ss.pending.splice(0, MAX_JOBS_PER_MESSAGE) }
        ss.messages.push(message)
      }
      return message === undefined ? undefined : {
        messageId: message.id,
        messageType: "RunnerScaleSetJobMessages",
        body: JSON.stringify(message.jobs),
        statistics: statistics(scaleSetId)
      }
    },
    ackMessage: (scaleSetId: number, messageId: number) => {
      const ss = scaleSet(scaleSetId)
      const index = ss.messages.findIndex((m) => m.id === messageId)
      if (index >= 0) ss.messages.splice(index, 1)
      changed()
    },
    acquireJobs: (scaleSetId: number, requestIds: ReadonlyArray<number>) =>
      mutate(() => {
        scaleSet(scaleSetId)
        const wanted = new Set(requestIds)
        const acquired: Array<number> = []
        for (const job of [...jobs.values()].sort((a, b) => a.order - b.order)) {
          if (job.scaleSetId !== scaleSetId || job.state !== "available" || !wanted.has(job.runnerRequestId)) continue
          job.state = "assigned"
          job.scaleSetAssignTime = new Date()
          post(scaleSetId, jobMessage(job, "JobAssigned"))
          acquired.push(job.runnerRequestId)
        }
        return acquired
      }),

    // ── jobs ──
    jobs: (): ReadonlyArray<Job> => [...jobs.values()].sort((a, b) => a.order - b.order).map(jobSnapshot),
    enqueueJobs: (input: EnqueueJobsOptions = {}): ReadonlyArray<string> =>
      mutate(() => {
        const count = input.count ?? 1
        const ids: Array<string> = []
        const workflowRunId = input.workflowRunId ?? 1000 + nextJobNumber
        for (let i = 0; i < count; i++) {
          const n = nextJobNumber++
          const job: JobRecord = {
            jobId: randomUUID(),
            order: n,
            runnerRequestId: 0,
            state: "queued",
            labels: [...(input.labels ?? [])],
            durationMs: input.durationMs ?? 1000,
            plannedResult: input.result ?? "succeeded",
            result: undefined,
            scaleSetId: undefined,
            runnerId: undefined,
            runnerName: undefined,
            cancellations: 0,
            repositoryName: input.repositoryName ?? options.defaultRepository,
            ownerName: input.ownerName ?? options.defaultOwner,
            jobDisplayName: (input.jobDisplayName ?? "job {n}").replace("{n}", String(n)),
            workflowRunId,
            eventName: input.eventName ?? "push",
            queueTime: new Date(),
            scaleSetAssignTime: undefined,
            runnerAssignTime: undefined,
            finishTime: undefined,
            timer: undefined
          }
          jobs.set(job.jobId, job)
          ids.push(job.jobId)
        }
        return ids
      })
  }
}

export type State = ReturnType<typeof makeState>

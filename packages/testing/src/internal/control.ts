/**
 * The plain (non-Effect) control surface of a running simulator: workload, faults and inspection.
 * `Simulator` wraps it in Effects; `startSimulator` hands it out as is.
 */
import * as Faults from "../Faults.js"
import type { Burst, EnqueueJobsOptions, Job, JobState, Runner, Statistics } from "../JobModel.js"
import type { RecordedRequest, SimulatorServer } from "./server.js"
import { ServiceException } from "./state.js"

/** A scale set as the simulator sees it. */
export interface ScaleSetInfo {
  readonly id: number
  readonly name: string
  readonly runnerGroupId: number
  readonly runnerGroupName: string
  readonly labels: ReadonlyArray<{ readonly name: string; readonly type: string }>
  readonly statistics: Statistics
  /** Job messages waiting to be packed into a message. */
  readonly pendingJobMessages: number
  /** Messages delivered (or ready) and not acknowledged. */
  readonly unacknowledgedMessages: ReadonlyArray<number>
}

/** An open message session. */
export interface SessionInfo {
  readonly sessionId: string
  readonly scaleSetId: number
  readonly ownerName: string
  /** The last `X-ScaleSetMaxCapacity` the client sent. */
  readonly maxCapacity: number | undefined
  /** Held by `holdSession`, not by a client. */
  readonly held: boolean
  readonly createdAt: Date
}

/** Everything at one moment. */
export interface Snapshot {
  readonly scaleSets: ReadonlyArray<ScaleSetInfo>
  readonly sessions: ReadonlyArray<SessionInfo>
  readonly runners: ReadonlyArray<Runner>
  readonly jobs: ReadonlyArray<Job>
  /** How many jobs are in each state. */
  readonly jobCounts: Readonly<Record<JobState, number>>
}

/** Which tokens `expireTokens` invalidates; all when none is named. */
export interface ExpireTokens {
  readonly admin?: boolean | undefined
  readonly queue?: boolean | undefined
  /** Installation and registration tokens. */
  readonly installation?: boolean | undefined
}

export class ControlError extends Error {}

export const makeControl = (server: SimulatorServer) => {
  const { state } = server

  const scaleSets = (): ReadonlyArray<ScaleSetInfo> =>
    state.scaleSets().map((ss) => ({
      id: ss.id,
      name: ss.name,
      runnerGroupId: ss.runnerGroupId,
      runnerGroupName: ss.runnerGroupName,
      labels: ss.labels.map((l) => ({ ...l })),
      statistics: state.statistics(ss.id),
      pendingJobMessages: ss.pending.length,
      unacknowledgedMessages: ss.messages.map((m) => m.id)
    }))
  const sessions = (): ReadonlyArray<SessionInfo> =>
    state.sessions().map((s) => ({
      sessionId: s.sessionId,
      scaleSetId: s.scaleSetId,
      ownerName: s.ownerName,
      maxCapacity: s.maxCapacity,
      held: s.held,
      createdAt: s.createdAt
    }))
  const jobs = (jobState?: JobState): ReadonlyArray<Job> =>
    state.jobs().filter((j) => jobState === undefined || j.state === jobState)
  const snapshot = (): Snapshot => {
    const all = state.jobs()
    const jobCounts: Record<JobState, number> = { queued: 0, available: 0, assigned: 0, running: 0, completed: 0 }
    for (const j of all) jobCounts[j.state]++
    return { scaleSets: scaleSets(), sessions: sessions(), runners: state.runners(), jobs: all, jobCounts }
  }
  const rethrow = <A>(f: () => A): A => {
    try {
      return f()
    } catch (e) {
      throw e instanceof ServiceException ? new ControlError(`${e.typeName}: ${e.message}`) : e
    }
  }

  return {
    enqueueJobs: (options?: EnqueueJobsOptions): ReadonlyArray<string> => state.enqueueJobs(options),
    /** Queues the bursts one after the other, each `afterMs` after the previous; all job ids. */
    workload: async (bursts: ReadonlyArray<Burst>, signal?: AbortSignal): Promise<ReadonlyArray<string>> => {
      const ids: Array<string> = []
      for (const burst of bursts) {
        if ((burst.afterMs ?? 0) > 0) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, burst.afterMs)
            signal?.addEventListener("abort", () => {
              clearTimeout(timer)
              resolve()
            })
          })
        }
        if (signal?.aborted) break
        ids.push(...state.enqueueJobs(burst))
      }
      return ids
    },
    addRunnerGroup: (name: string) => state.addRunnerGroup(name),
    /** Creates a scale set directly (as if another client had): its id. */
    createScaleSet: (input: { readonly name: string; readonly runnerGroupId?: number; readonly labels?: ReadonlyArray<string> }) =>
      rethrow(() =>
        state.createScaleSet({
          name: input.name,
          runnerGroupId: input.runnerGroupId,
          labels: input.labels?.map((name) => ({ name }))
        }).id
      ),
    deleteScaleSet: (id: number) => rethrow(() => state.deleteScaleSet(id)),

    inject: (rules: Faults.FaultRule | ReadonlyArray<Faults.FaultRule>) => {
      for (const rule of Array.isArray(rules) ? rules : [rules]) server.inject(rule)
    },
    statusSequence: (
      match: Faults.RouteId | Faults.FaultMatch,
      statuses: ReadonlyArray<number | "pass">,
      options?: { readonly retryAfter?: number | undefined }
    ) => {
      for (const rule of Faults.sequence(match, statuses, options)) server.inject(rule)
    },
    clearFaults: () => server.clearFaults(),
    expireTokens: (which: ExpireTokens = {}) => {
      const all = which.admin === undefined && which.queue === undefined && which.installation === undefined
      if (all || which.admin) server.tokens.expireAdminTokens()
      if (all || which.installation) server.tokens.expireInstallationTokens()
      if (all || which.queue) state.expireQueueTokens()
    },
    /** Opens a session on the scale set as another client would; the returned function releases it. */
    holdSession: (scaleSetId: number, ownerName = "another-listener"): (() => void) => {
      const session = rethrow(() => state.createSession(scaleSetId, ownerName, true))
      return () => {
        state.deleteSession(session.sessionId)
      }
    },

    requests: (filter?: { readonly route?: Faults.RouteId; readonly method?: string }): ReadonlyArray<RecordedRequest> =>
      server.requests().filter((r) =>
        (filter?.route === undefined || r.route === filter.route) &&
        (filter?.method === undefined || r.method === filter.method.toUpperCase())
      ),
    clearRequests: () => server.clearRequests(),
    scaleSets,
    sessions,
    runners: (): ReadonlyArray<Runner> => state.runners(),
    jobs,
    statistics: (scaleSetId: number): Statistics => rethrow(() => state.statistics(state.scaleSet(scaleSetId).id)),
    snapshot,
    /** Calls `listener` after every change of the model. */
    onChange: (listener: () => void): (() => void) => state.subscribe(listener),
    /** Resolves with the first snapshot `predicate` accepts; rejects after `timeoutMs`. */
    waitFor: (predicate: (s: Snapshot) => boolean, timeoutMs = 30_000, description = "a condition"): Promise<Snapshot> =>
      new Promise<Snapshot>((resolve, reject) => {
        const check = () => {
          const s = snapshot()
          if (!predicate(s)) return false
          clearTimeout(timer)
          unsubscribe()
          resolve(s)
          return true
        }
        const timer = setTimeout(() => {
          unsubscribe()
          reject(new ControlError(`timed out after ${timeoutMs} ms waiting for ${description}`))
        }, timeoutMs)
        const unsubscribe = state.subscribe(() => void check())
        check()
      })
  }
}

export type Control = ReturnType<typeof makeControl>

/**
 * Who is calling: the caller's system info, sent with the library's own build info as the
 * `User-Agent` JSON on every request.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 @category models */
export interface SystemInfo {
  readonly system: string
  readonly version: string
  readonly commitSha: string
  readonly scaleSetId: number
  readonly subsystem: string
}

/** The library's own version, sent as `build_version`. @since 0.1.0 */
export const BUILD_VERSION = "0.1.0"
/** The library's own commit, sent as `build_commit_sha` (unknown for workspace builds). @since 0.1.0 */
export const BUILD_COMMIT_SHA = "unknown"

/** @since 0.1.0 */
export const empty: SystemInfo = { system: "", version: "", commitSha: "", scaleSetId: 0, subsystem: "" }

/** @since 0.1.0 @category constructors */
export const make = (info: Partial<SystemInfo> = {}): SystemInfo => ({ ...empty, ...info })

/**
 * The `User-Agent` header value: a JSON object.
 *
 * @since 0.1.0
 */
export const userAgent = (info: SystemInfo): string =>
  JSON.stringify({
    system: info.system,
    version: info.version,
    commit_sha: info.commitSha,
    scale_set_id: info.scaleSetId,
    subsystem: info.subsystem,
    build_version: BUILD_VERSION,
    build_commit_sha: BUILD_COMMIT_SHA,
    kind: "scaleset"
  })

/**
 * Root certificate authorities: extra CAs (PEM text or files, whole chains) added to Node's
 * bundled ones, so a private CA does not drop the public ones.
 */
import * as Effect from "effect/Effect"
import { readFile } from "node:fs/promises"
import { X509Certificate } from "node:crypto"
import { rootCertificates } from "node:tls"
import { TransportError } from "../NodeError.js"

const certificateBlock = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

/** Whether a string is PEM text rather than a file path. */
export const isPem = (source: string): boolean => source.includes("-----BEGIN")

/** Splits PEM text into its certificates, each checked to parse; `what` names the source in errors. */
export const parseCertificates = (pem: string, what: string): Effect.Effect<ReadonlyArray<string>, TransportError> =>
  Effect.gen(function*() {
    const blocks = pem.replace(/\r\n/g, "\n").match(certificateBlock) ?? []
    if (blocks.length === 0) {
      return yield* new TransportError({ setting: "rootCAs", reason: `${what} holds no PEM certificate (BEGIN CERTIFICATE)` })
    }
    for (const [index, block] of blocks.entries()) {
      yield* Effect.try({
        try: () => new X509Certificate(block),
        catch: () =>
          new TransportError({ setting: "rootCAs", reason: `certificate ${index + 1} in ${what} is not a valid X.509 certificate` })
      })
    }
    return blocks
  })

/** Reads one source: PEM text as is, anything else as a file path. */
export const loadSource = (source: string): Effect.Effect<ReadonlyArray<string>, TransportError> =>
  isPem(source)
    ? parseCertificates(source, "the PEM text given")
    : Effect.tryPromise({
      try: () => readFile(source, "utf8"),
      catch: (cause) =>
        new TransportError({
          setting: "rootCAs",
          reason: `cannot read CA file ${source}: ${(cause as { code?: string }).code ?? String(cause)}`
        })
    }).pipe(Effect.flatMap((text) => parseCertificates(text, `CA file ${source}`)))

/**
 * The CA list for TLS: Node's bundled roots, the certificates of `NODE_EXTRA_CA_CERTS` (which an
 * explicit `ca` would otherwise drop) and the extra sources. `undefined` when there is nothing
 * extra (Node's defaults then apply unchanged).
 */
export const rootCAs = (
  sources: ReadonlyArray<string>,
  nodeExtraCaCerts: string | undefined
): Effect.Effect<ReadonlyArray<string> | undefined, TransportError> =>
  Effect.gen(function*() {
    if (sources.length === 0) return undefined
    const extra = (yield* Effect.forEach(sources, loadSource)).flat()
    const fromNode = nodeExtraCaCerts === undefined || nodeExtraCaCerts === ""
      ? []
      : yield* loadSource(nodeExtraCaCerts).pipe(
        Effect.catchAll((error) =>
          Effect.as(Effect.logWarning("NODE_EXTRA_CA_CERTS is not used", error.reason), [] as ReadonlyArray<string>)
        )
      )
    return [...rootCertificates, ...fromNode, ...extra]
  })

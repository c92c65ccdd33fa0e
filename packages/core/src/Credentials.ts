/**
 * Credentials: a personal access token, or a GitHub App (client id or app id, installation id,
 * private key). App keys are imported with WebCrypto through `jose`, so core runs on any runtime.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as jose from "jose"
import { AuthError } from "./ScaleSetError.js"

/** @since 0.1.0 @category models */
export type Credentials = PersonalAccessToken | GitHubApp

/** @since 0.1.0 @category models */
export interface PersonalAccessToken {
  readonly _tag: "PersonalAccessToken"
  readonly token: Redacted.Redacted<string>
}

/** @since 0.1.0 @category models */
export interface GitHubApp {
  readonly _tag: "GitHubApp"
  /** The app's client id (`Iv1.…`) or its numeric app id, as a string. */
  readonly clientId: string
  readonly installationId: number
  /** PEM, PKCS#1 (`BEGIN RSA PRIVATE KEY`) or PKCS#8 (`BEGIN PRIVATE KEY`), real or literal `\n`. */
  readonly privateKey: Redacted.Redacted<string>
}

/** @since 0.1.0 @category constructors */
export const personalAccessToken = (token: Redacted.Redacted<string> | string): Credentials => ({
  _tag: "PersonalAccessToken",
  token: Redacted.isRedacted(token) ? token : Redacted.make(token)
})

/** @since 0.1.0 @category constructors */
export const gitHubApp = (options: {
  readonly clientId?: string | undefined
  readonly appId?: string | number | undefined
  readonly installationId: number
  readonly privateKey: Redacted.Redacted<string> | string
}): Credentials => ({
  _tag: "GitHubApp",
  clientId: options.clientId ?? (options.appId === undefined ? "" : String(options.appId)),
  installationId: options.installationId,
  privateKey: Redacted.isRedacted(options.privateKey) ? options.privateKey : Redacted.make(options.privateKey)
})

const credentialsError = (reason: string) => new AuthError({ step: "credentials", reason })

// DER prefix of a PKCS#8 PrivateKeyInfo for rsaEncryption, before the OCTET STRING's length bytes
const derLength = (n: number): Array<number> =>
  n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]

/** Wraps a PKCS#1 RSAPrivateKey into a PKCS#8 PrivateKeyInfo, which WebCrypto imports. */
const pkcs1ToPkcs8 = (pkcs1: Uint8Array): Uint8Array => {
  const version = [0x02, 0x01, 0x00]
  const algorithm = [0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00]
  const octets = [0x04, ...derLength(pkcs1.length)]
  const contentLength = version.length + algorithm.length + octets.length + pkcs1.length
  const head = [0x30, ...derLength(contentLength), ...version, ...algorithm, ...octets]
  const out = new Uint8Array(head.length + pkcs1.length)
  out.set(head, 0)
  out.set(pkcs1, head.length)
  return out
}

const toPem = (der: Uint8Array, label: string): string => {
  let binary = ""
  for (const byte of der) binary += String.fromCharCode(byte)
  const base64 = btoa(binary).replace(/(.{64})/g, "$1\n")
  return `-----BEGIN ${label}-----\n${base64}\n-----END ${label}-----\n`
}

const pemBlock = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/

/**
 * Imports an app private key. The error names the format found and never the key.
 *
 * @since 0.1.0
 */
export const importPrivateKey = (pem: Redacted.Redacted<string>): Effect.Effect<jose.CryptoKey, AuthError> =>
  Effect.gen(function*() {
    const raw: unknown = Redacted.value(pem)
    if (typeof raw !== "string") return yield* credentialsError("app private key is required (a PEM string)")
    const text = raw.replace(/\\r\\n|\\n/g, "\n").replace(/\r\n/g, "\n").trim()
    if (text.length === 0) return yield* credentialsError("app private key is required")
    const match = pemBlock.exec(text)
    if (match === null) {
      return yield* credentialsError("the app private key is not a PEM block (expected BEGIN RSA PRIVATE KEY or BEGIN PRIVATE KEY)")
    }
    const label = match[1]!
    const body = match[2]!
    if (label === "OPENSSH PRIVATE KEY") {
      return yield* credentialsError(
        "the app private key is in OpenSSH format; use the PEM file GitHub gives (PKCS#1) or convert it to PKCS#8"
      )
    }
    if (label === "ENCRYPTED PRIVATE KEY" || /Proc-Type:\s*4,ENCRYPTED/.test(body)) {
      return yield* credentialsError("the app private key is encrypted; give it without a passphrase")
    }
    if (label !== "RSA PRIVATE KEY" && label !== "PRIVATE KEY") {
      return yield* credentialsError(`the app private key is a ${label}; expected an RSA private key in PEM`)
    }
    const der = yield* Effect.try({
      try: () => Uint8Array.from(atob(body.replace(/\s+/g, "")), (c) => c.charCodeAt(0)),
      catch: () => credentialsError(`the app private key (${label}) is not valid base64`)
    })
    const pkcs8 = label === "RSA PRIVATE KEY" ? toPem(pkcs1ToPkcs8(der), "PRIVATE KEY") : toPem(der, "PRIVATE KEY")
    return yield* Effect.tryPromise({
      try: () => jose.importPKCS8(pkcs8, "RS256"),
      catch: () => credentialsError(`the app private key (${label}) is garbled: it does not hold an RSA key`)
    })
  })

/**
 * Checks app credentials without sending anything: client id, installation id and a usable key.
 *
 * @since 0.1.0
 */
export const validate = (credentials: Credentials): Effect.Effect<void, AuthError> =>
  Effect.gen(function*() {
    // JavaScript callers can pass anything: check types before values
    if (credentials._tag === "PersonalAccessToken") {
      const token: unknown = Redacted.value(credentials.token)
      if (typeof token !== "string" || token.trim() === "") return yield* credentialsError("personal access token is required")
      return
    }
    const clientId: unknown = credentials.clientId
    if (typeof clientId !== "string" || clientId.trim() === "") return yield* credentialsError("GitHub App client ID is required")
    if (!Number.isSafeInteger(credentials.installationId) || credentials.installationId <= 0) {
      return yield* credentialsError("GitHub App installation ID is required (a positive integer)")
    }
    yield* importPrivateKey(credentials.privateKey)
  })

/**
 * Signs the app JWT: RS256, `iss` = client id, `iat` = now − 60 s, `exp` = iat + 9 min, random `jti`.
 *
 * @since 0.1.0
 */
export const signAppJwt = (
  key: jose.CryptoKey,
  clientId: string,
  nowMillis: number
): Effect.Effect<Redacted.Redacted<string>, AuthError> => {
  const iat = Math.floor(nowMillis / 1000) - 60
  return Effect.tryPromise({
    try: () =>
      new jose.SignJWT({})
        .setProtectedHeader({ alg: "RS256", typ: "JWT" })
        .setIssuer(clientId)
        .setIssuedAt(iat)
        .setExpirationTime(iat + 540)
        .setJti(crypto.randomUUID())
        .sign(key),
    catch: () => new AuthError({ step: "app-jwt", reason: "signing the GitHub App JWT failed" })
  }).pipe(Effect.map(Redacted.make))
}

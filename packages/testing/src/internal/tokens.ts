/**
 * The simulator's credentials: the PAT it accepts, the GitHub App key (given or generated), app
 * installation tokens, registration tokens, and the admin and message queue JWTs it signs.
 */
import { createPublicKey, generateKeyPairSync, type KeyObject, randomBytes } from "node:crypto"
import * as jose from "jose"

export interface TokenOptions {
  readonly pat: string
  readonly appClientId: string
  readonly appId: number
  readonly installationId: number
  /** PEM (SPKI or PKCS#1) public key of the app; generated with its private key when absent. */
  readonly appPublicKey: string | undefined
  readonly adminTokenTtlMs: number
  readonly queueTokenTtlMs: number
  readonly registrationTokenTtlMs: number
  readonly installationTokenTtlMs: number
}

export interface QueueClaims {
  readonly sessionId: string
  readonly scaleSetId: number
  readonly generation: number
}

const hex = (n: number) => randomBytes(n).toString("hex")

export const makeTokens = (options: TokenOptions) => {
  const secret = randomBytes(32)
  let adminGeneration = 0
  let adminValidFrom = 1
  let appKeys: { readonly publicKey: KeyObject; readonly privateKeyPem: string | undefined } | undefined
  const installationTokens = new Map<string, number>()
  const registrationTokens = new Map<string, { readonly scope: string; readonly expiresAt: number }>()

  const keys = () => {
    if (appKeys !== undefined) return appKeys
    if (options.appPublicKey !== undefined) {
      appKeys = { publicKey: createPublicKey(options.appPublicKey), privateKeyPem: undefined }
    } else {
      // GitHub hands out PKCS#1 PEM files; so does the simulator
      const pair = generateKeyPairSync("rsa", {
        modulusLength: 2048,
        publicKeyEncoding: { type: "spki", format: "pem" },
        privateKeyEncoding: { type: "pkcs1", format: "pem" }
      })
      appKeys = { publicKey: createPublicKey(pair.publicKey), privateKeyPem: pair.privateKey }
    }
    return appKeys
  }

  const sign = (claims: jose.JWTPayload, ttlMs: number) =>
    new jose.SignJWT(claims)
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setIssuer("scaleset-simulator")
      .setIssuedAt()
      .setJti(hex(8))
      .setExpirationTime(Math.floor((Date.now() + ttlMs) / 1000))
      .sign(secret)

  const verify = async (token: string) => {
    try {
      const { payload } = await jose.jwtVerify(token, secret, { issuer: "scaleset-simulator", algorithms: ["HS256"] })
      return payload
    } catch {
      return undefined
    }
  }

  return {
    pat: options.pat,
    appClientId: options.appClientId,
    appId: options.appId,
    installationId: options.installationId,
    /** The PEM (PKCS#1) private key of the generated app key, or undefined when a public key was given. */
    appPrivateKey: () => keys().privateKeyPem,

    /** Checks an App JWT: RS256 signed by the app key, issuer the client id or app id, sane iat/exp. */
    verifyAppJwt: async (jwt: string): Promise<string | undefined> => {
      let payload: jose.JWTPayload
      try {
        payload = (await jose.jwtVerify(jwt, keys().publicKey, { algorithms: ["RS256"], clockTolerance: 60 })).payload
      } catch (e) {
        return e instanceof Error ? `the JWT could not be verified: ${e.message}` : "the JWT could not be verified"
      }
      const now = Math.floor(Date.now() / 1000)
      if (payload.iss !== options.appClientId && payload.iss !== String(options.appId)) {
        return `the JWT issuer ${JSON.stringify(payload.iss)} is not this app`
      }
      if (typeof payload.iat !== "number" || payload.iat > now + 60) return "'Issued at' claim ('iat') must be an Integer representing a time in the past."
      if (typeof payload.exp !== "number" || payload.exp - payload.iat > 600) {
        return "'Expiration time' claim ('exp') is too far in the future."
      }
      return undefined
    },
    issueInstallationToken: () => {
      const token = `ghs_${hex(18)}`
      const expiresAt = Date.now() + options.installationTokenTtlMs
      installationTokens.set(token, expiresAt)
      return { token, expiresAt }
    },
    /** A PAT or an unexpired installation token. */
    acceptsGitHubToken: (token: string) =>
      token === options.pat || (installationTokens.get(token) ?? 0) > Date.now(),
    issueRegistrationToken: (scope: string) => {
      const token = `REG${hex(14).toUpperCase()}`
      const expiresAt = Date.now() + options.registrationTokenTtlMs
      registrationTokens.set(token, { scope, expiresAt })
      return { token, expiresAt }
    },
    /** The scope a registration token was issued for, if it is valid. */
    registrationScope: (token: string): string | undefined => {
      const found = registrationTokens.get(token)
      return found !== undefined && found.expiresAt > Date.now() ? found.scope : undefined
    },

    signAdmin: () => sign({ scope: "admin", gen: ++adminGeneration }, options.adminTokenTtlMs),
    verifyAdmin: async (token: string): Promise<boolean> => {
      const payload = await verify(token)
      return payload !== undefined && payload.scope === "admin" && typeof payload.gen === "number" &&
        payload.gen >= adminValidFrom
    },
    signQueue: (claims: QueueClaims) =>
      sign({ scope: "queue", sid: claims.sessionId, ssid: claims.scaleSetId, gen: claims.generation }, options.queueTokenTtlMs),
    verifyQueue: async (token: string): Promise<QueueClaims | undefined> => {
      const payload = await verify(token)
      if (payload === undefined || payload.scope !== "queue") return undefined
      const { sid, ssid, gen } = payload
      return typeof sid === "string" && typeof ssid === "number" && typeof gen === "number"
        ? { sessionId: sid, scaleSetId: ssid, generation: gen }
        : undefined
    },

    /** Every admin and installation token issued so far is refused from now on. */
    expireAdminTokens: () => {
      adminValidFrom = adminGeneration + 1
    },
    expireInstallationTokens: () => {
      installationTokens.clear()
      registrationTokens.clear()
    }
  }
}

export type Tokens = ReturnType<typeof makeTokens>

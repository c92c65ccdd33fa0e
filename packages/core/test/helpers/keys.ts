/**
 * Test keys: a GitHub App RSA key (PKCS#1 and PKCS#8 PEM), fake admin JWTs, and a CA with a
 * loopback server certificate for TLS tests (node-forge signs, node:crypto generates the keys).
 */
import * as crypto from "node:crypto"
import forge from "node-forge"

export interface AppKey {
  readonly pkcs1Pem: string
  readonly pkcs8Pem: string
  readonly publicKey: crypto.KeyObject
}

export const makeAppKey = (): AppKey => {
  const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 })
  return {
    pkcs1Pem: privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
    pkcs8Pem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicKey
  }
}

const b64url = (s: string | Buffer) => Buffer.from(s).toString("base64url")

/** A JWT the fake service issues: RS256 header, `iss`, `iat`, optional `exp`, arbitrary signature. */
export const fakeJwt = (claims: Record<string, unknown>, signature = "c2lnbmF0dXJl") =>
  `${b64url(JSON.stringify({ alg: "RS256", typ: "JWT" }))}.${b64url(JSON.stringify(claims))}.${signature}`

export const adminJwt = (expInSeconds: number | null, tag = "a") => {
  const now = Math.floor(Date.now() / 1000)
  return fakeJwt(
    expInSeconds === null ? { iss: "123", iat: now - 600 } : { iss: "123", iat: now - 600, exp: now + expInSeconds },
    b64url(`signature-${tag}-${crypto.randomUUID()}`)
  )
}

export interface Tls {
  readonly caPem: string
  readonly certPem: string
  readonly keyPem: string
}

const toForgeKey = (key: crypto.KeyObject) =>
  forge.pki.privateKeyFromPem(key.export({ type: "pkcs1", format: "pem" }).toString())

/** A CA and a certificate for 127.0.0.1 / localhost signed by it. */
export const makeTls = (): Tls => {
  const caKeys = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 })
  const serverKeys = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 })
  const caPrivate = toForgeKey(caKeys.privateKey)
  const caPublic = forge.pki.publicKeyFromPem(caKeys.publicKey.export({ type: "spki", format: "pem" }).toString())
  const serverPublic = forge.pki.publicKeyFromPem(
    serverKeys.publicKey.export({ type: "spki", format: "pem" }).toString()
  )
  const validity = (cert: forge.pki.Certificate) => {
    cert.validity.notBefore = new Date(Date.now() - 60_000)
    cert.validity.notAfter = new Date(Date.now() + 24 * 3600_000)
  }
  const ca = forge.pki.createCertificate()
  ca.publicKey = caPublic
  ca.serialNumber = "01"
  validity(ca)
  const caName = [{ name: "commonName", value: "scaleset conformance CA" }]
  ca.setSubject(caName)
  ca.setIssuer(caName)
  ca.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true }
  ])
  ca.sign(caPrivate, forge.md.sha256.create())

  const cert = forge.pki.createCertificate()
  cert.publicKey = serverPublic
  cert.serialNumber = "02"
  validity(cert)
  cert.setSubject([{ name: "commonName", value: "127.0.0.1" }])
  cert.setIssuer(caName)
  cert.setExtensions([
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
    { name: "extKeyUsage", serverAuth: true },
    { name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }, { type: 2, value: "localhost" }] }
  ])
  cert.sign(caPrivate, forge.md.sha256.create())
  return {
    caPem: forge.pki.certificateToPem(ca),
    certPem: forge.pki.certificateToPem(cert),
    keyPem: serverKeys.privateKey.export({ type: "pkcs1", format: "pem" }).toString()
  }
}

/** Verifies an RS256 JWT with a public key; returns its header and claims, or a reason. */
export const verifyRs256 = (
  token: string,
  publicKey: crypto.KeyObject
): { readonly ok: true; readonly header: Record<string, unknown>; readonly claims: Record<string, unknown> } | {
  readonly ok: false
  readonly reason: string
} => {
  const parts = token.split(".")
  if (parts.length !== 3) return { ok: false, reason: "not three segments" }
  const [h, p, s] = parts as [string, string, string]
  let header: Record<string, unknown>
  let claims: Record<string, unknown>
  try {
    header = JSON.parse(Buffer.from(h, "base64url").toString()) as Record<string, unknown>
    claims = JSON.parse(Buffer.from(p, "base64url").toString()) as Record<string, unknown>
  } catch {
    return { ok: false, reason: "header or claims are not JSON" }
  }
  if (header.alg !== "RS256") return { ok: false, reason: `alg is ${String(header.alg)}` }
  const valid = crypto.verify("sha256", Buffer.from(`${h}.${p}`), publicKey, Buffer.from(s, "base64url"))
  return valid ? { ok: true, header, claims } : { ok: false, reason: "bad signature" }
}

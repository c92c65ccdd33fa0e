/**
 * Test certificates: a root CA, an intermediate CA and a leaf for 127.0.0.1 / localhost signed by
 * the intermediate (node:crypto makes the keys, node-forge signs).
 */
import * as crypto from "node:crypto"
import forge from "node-forge"

export interface TestPki {
  readonly rootPem: string
  readonly intermediatePem: string
  readonly leafPem: string
  readonly leafKeyPem: string
}

const keyPair = () => {
  const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 })
  return {
    privateKey: forge.pki.privateKeyFromPem(privateKey.export({ type: "pkcs1", format: "pem" }).toString()) as forge.pki.rsa.PrivateKey,
    publicKey: forge.pki.publicKeyFromPem(publicKey.export({ type: "spki", format: "pem" }).toString()),
    privatePem: privateKey.export({ type: "pkcs8", format: "pem" }).toString()
  }
}

let serial = 1

const certificate = (options: {
  readonly commonName: string
  readonly publicKey: forge.pki.PublicKey
  readonly issuer: { readonly cert: forge.pki.Certificate; readonly key: forge.pki.rsa.PrivateKey } | { readonly selfKey: forge.pki.rsa.PrivateKey }
  readonly ca: boolean
}) => {
  const cert = forge.pki.createCertificate()
  cert.publicKey = options.publicKey
  cert.serialNumber = (serial++).toString(16).padStart(2, "0")
  cert.validity.notBefore = new Date(Date.now() - 60_000)
  cert.validity.notAfter = new Date(Date.now() + 24 * 3600_000)
  const subject = [{ name: "commonName", value: options.commonName }]
  cert.setSubject(subject)
  cert.setIssuer("cert" in options.issuer ? options.issuer.cert.subject.attributes : subject)
  cert.setExtensions(
    options.ca
      ? [{ name: "basicConstraints", cA: true, critical: true }, { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true }]
      : [
        { name: "basicConstraints", cA: false },
        { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
        { name: "extKeyUsage", serverAuth: true },
        { name: "subjectAltName", altNames: [{ type: 2, value: "localhost" }, { type: 2, value: "scaleset.test" }, { type: 7, ip: "127.0.0.1" }] }
      ]
  )
  cert.sign("cert" in options.issuer ? options.issuer.key : options.issuer.selfKey, forge.md.sha256.create())
  return cert
}

export const makePki = (): TestPki => {
  const rootKeys = keyPair()
  const intermediateKeys = keyPair()
  const leafKeys = keyPair()
  const root = certificate({ commonName: "scaleset test root", publicKey: rootKeys.publicKey, issuer: { selfKey: rootKeys.privateKey }, ca: true })
  const intermediate = certificate({
    commonName: "scaleset test intermediate",
    publicKey: intermediateKeys.publicKey,
    issuer: { cert: root, key: rootKeys.privateKey },
    ca: true
  })
  const leaf = certificate({
    commonName: "localhost",
    publicKey: leafKeys.publicKey,
    issuer: { cert: intermediate, key: intermediateKeys.privateKey },
    ca: false
  })
  return {
    rootPem: forge.pki.certificateToPem(root),
    intermediatePem: forge.pki.certificateToPem(intermediate),
    leafPem: forge.pki.certificateToPem(leaf),
    leafKeyPem: leafKeys.privatePem
  }
}

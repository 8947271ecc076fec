import Foundation
import Crypto
import X509
import SwiftASN1

/// A CA and a server certificate for 127.0.0.1/localhost, generated at run time so no key
/// material is committed and every test run trusts only its own CA.
public struct TestCertificates: Sendable {
    /// The CA certificate (PEM) clients must trust.
    public let caPEM: String
    /// The server's certificate (PEM), signed by the CA.
    public let serverCertificatePEM: String
    /// The server's private key (PEM).
    public let serverKeyPEM: String
    /// A client certificate and key signed by the same CA (for mutual-TLS tests).
    public let clientCertificatePEM: String
    public let clientKeyPEM: String

    /// Generates a fresh CA, server and client pair (ECDSA P-256).
    public static func generate() throws -> TestCertificates {
        let now = Date()
        let caKey = P256.Signing.PrivateKey()
        let caName = try DistinguishedName { CommonName("cano-fake-kube-ca") }
        let ca = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(caKey.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(86400 * 2),
            issuer: caName, subject: caName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            },
            issuerPrivateKey: Certificate.PrivateKey(caKey))

        func leaf(_ cn: String, server: Bool) throws -> (String, String) {
            let key = P256.Signing.PrivateKey()
            let cert = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(),
                publicKey: Certificate.PublicKey(key.publicKey),
                notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(86400),
                issuer: caName, subject: try DistinguishedName { CommonName(cn) },
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true, keyAgreement: true))
                    try ExtendedKeyUsage([server ? .serverAuth : .clientAuth])
                    if server {
                        SubjectAlternativeNames([
                            .dnsName("localhost"),
                            .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
                        ])
                    }
                },
                issuerPrivateKey: Certificate.PrivateKey(caKey))
            return (try cert.serializeAsPEM().pemString, key.pemRepresentation)
        }
        let (serverCert, serverKey) = try leaf("127.0.0.1", server: true)
        let (clientCert, clientKey) = try leaf("cano-test-client", server: false)
        return TestCertificates(
            caPEM: try ca.serializeAsPEM().pemString, serverCertificatePEM: serverCert, serverKeyPEM: serverKey,
            clientCertificatePEM: clientCert, clientKeyPEM: clientKey)
    }
}

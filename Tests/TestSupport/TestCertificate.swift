import Crypto
import Foundation
import SwiftASN1
import X509

/// A throwaway self-signed certificate for 127.0.0.1, made at run time (no files, no
/// openssl): the HTTPS receiver double serves it and clients trust it as their CA.
public struct TestCertificate: Sendable {
    /// The certificate (also its own CA), PEM.
    public let certificatePEM: String
    /// Its P-256 private key, PEM.
    public let privateKeyPEM: String

    /// A fresh certificate valid for one hour, for IP 127.0.0.1 and DNS localhost.
    public static func make() throws -> TestCertificate {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName("cano-collector test receiver") }
        let now = Date()
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: now.addingTimeInterval(-60),
            notValidAfter: now.addingTimeInterval(3600),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                SubjectAlternativeNames([.ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])), .dnsName("localhost")])
            },
            issuerPrivateKey: Certificate.PrivateKey(key))
        return TestCertificate(certificatePEM: try certificate.serializeAsPEM().pemString, privateKeyPEM: key.pemRepresentation)
    }
}

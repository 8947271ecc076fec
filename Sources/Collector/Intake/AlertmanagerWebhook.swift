import CanoSDK

/// Alertmanager's webhook body (version 4), as every Alertmanager since 0.x sends it.
/// Unknown and newer fields (truncatedAlerts, groupKey, notification_reason...) are
/// tolerated: only what cano-collector uses is read.
struct AlertmanagerWebhook: Decodable, Sendable {
    var version: String?
    var groupKey: String?
    var receiver: String?
    var externalURL: String?
    var truncatedAlerts: Int?
    /// Each alert is decoded on its own, so that one bad alert does not reject the group.
    var alerts: [JSONValue]
}

/// One alert of the webhook body.
struct AlertmanagerAlert: Decodable, Sendable {
    var status: String
    var labels: [String: String]
    var annotations: [String: String]?
    var startsAt: String
    var endsAt: String?
    var generatorURL: String?
    var fingerprint: String?
}

import CanoSDK

/// Alertmanager's webhook body (version 4), as every Alertmanager since 0.x sends it.
/// Unknown and newer fields (notification_reason...) are tolerated: only what
/// cano-collector uses is read.
struct AlertmanagerWebhook: Decodable, Sendable {
    var version: String?
    var groupKey: String?
    var receiver: String?
    var externalURL: String?
    /// How many alerts of the group Alertmanager left out of this notification because the
    /// receiver's `max_alerts` was exceeded (0 or absent: none).
    var truncatedAlerts: Int?
    /// The group's labels (the route's `group_by`), for a link to the group. Read leniently:
    /// a malformed value only loses the link, never the alerts.
    var groupLabels: LenientLabels?
    /// Each alert is decoded on its own, so that one bad alert does not reject the group.
    var alerts: [DecodedAlert]
}

/// A label map, or nil when the value is not an object of strings.
struct LenientLabels: Decodable, Sendable {
    var labels: [String: String]?
    init(from decoder: any Decoder) throws {
        labels = try? decoder.singleValueContainer().decode([String: String].self)
    }
}

/// One element of `alerts`: the alert, or why it does not decode (in one pass, with the
/// path to the offending key, e.g. `key "alerts[2].labels": expected a string`).
enum DecodedAlert: Decodable, Sendable {
    case alert(AlertmanagerAlert)
    case invalid(String)

    init(from decoder: any Decoder) throws {
        do {
            self = .alert(try AlertmanagerAlert(from: decoder))
        } catch let error as DecodingError {
            self = .invalid(error.readableDescription)
        }
    }
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

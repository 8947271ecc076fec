import CanoSDK

/// `quota`: a workload cannot create pods because a ResourceQuota is exhausted. Parses the
/// API server's "exceeded quota: NAME, requested: a=1, used: a=6, limited: a=6" (in a
/// FailedCreate event, a ReplicaFailure condition or the Issue) into which resource ran
/// out, used against hard, and who asked.
struct QuotaRule: DiagnosisRule {
    let name = "quota"

    /// The parts of one "exceeded quota" message.
    struct Exceeded {
        var quota: String
        /// In the message's order.
        var requested: [(String, String)]
        var used: [String: String]
        var limited: [String: String]

        /// The requested resources that do not fit: used + requested > limited.
        var overflowing: [String] {
            requested.compactMap { resource, amount in
                guard let r = Quantity.parse(amount), let hard = limited[resource].flatMap(Quantity.parse) else { return nil }
                let u = used[resource].flatMap(Quantity.parse) ?? 0
                return u + r > hard ? resource : nil
            }
        }
    }

    func diagnose(_ facts: DiagnosisFacts) -> Diagnosis? {
        let messages = facts.eventMessages(["FailedCreate"]) + facts.texts
        // The substring first: a regular expression on every line of every alert is not free.
        guard let message = messages.first(where: { $0.contains("exceeded quota") && Self.parse($0) != nil }), let e = Self.parse(message) else { return nil }
        let who = facts.issue.subject.annotations["workloadKind"].map { "\($0) \(facts.issue.subject.namespace.map { "\($0)/" } ?? "")\(facts.issue.subject.annotations["workloadName"] ?? "")" }
            ?? KubeTarget.of(facts.issue)?.reference ?? "the workload"
        let over = e.overflowing.isEmpty ? e.requested.map(\.0) : e.overflowing
        let lines = over.map { r in "\(r): requested \(e.requested.first { $0.0 == r }?.1 ?? "?"), used \(e.used[r] ?? "0") of \(e.limited[r] ?? "?")" }
        let namespace = facts.issue.subject.namespace ?? "the namespace"
        return Diagnosis(rule: name,
                         cause: "\(who) cannot create pods: ResourceQuota \(e.quota) is exhausted for \(over.joined(separator: ", "))",
                         evidence: ["API server: \(Evidence.clip(message, 400))"] + lines,
                         nextStep: "Raise \(over.joined(separator: ", ")) in ResourceQuota \(e.quota) (kubectl describe quota \(e.quota) -n \(namespace)), lower \(who)'s requests or limits, or scale down what else uses the quota.")
    }

    /// The parts of "exceeded quota: NAME, requested: ..., used: ..., limited: ...".
    static func parse(_ message: String) -> Exceeded? {
        guard let m = message.firstMatch(of: #/exceeded quota: ([^,\s]+), requested: (\S+), used: (\S+), limited: (\S+)/#) else { return nil }
        func pairs(_ s: Substring) -> [(String, String)] {
            s.split(separator: ",").compactMap { p in
                let kv = p.split(separator: "=", maxSplits: 1)
                return kv.count == 2 ? (String(kv[0]), String(kv[1])) : nil
            }
        }
        return Exceeded(quota: String(m.1), requested: pairs(m.2),
                        used: Dictionary(pairs(m.3), uniquingKeysWith: { a, _ in a }),
                        limited: Dictionary(pairs(m.4.trimmingSuffix(".'\"")), uniquingKeysWith: { a, _ in a }))
    }
}

private extension Substring {
    /// Without trailing characters from `set` (a sentence's full stop, a closing quote).
    func trimmingSuffix(_ set: String) -> Substring {
        var s = self
        while let last = s.last, set.contains(last) { s = s.dropLast() }
        return s
    }
}

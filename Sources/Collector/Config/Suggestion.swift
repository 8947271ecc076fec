/// "Did you mean …?" for names a user typed: config keys, destination types.
public enum Suggestion {
    /// The candidate closest to `word` (Levenshtein distance, case-insensitive) when it is
    /// within `maxDistance` edits; nil otherwise.
    public static func closest(to word: String, in candidates: some Sequence<String>, maxDistance: Int = 2) -> String? {
        let scored = candidates.map { ($0, distance($0.lowercased(), word.lowercased())) }.filter { $0.1 <= maxDistance }
        return scored.min { $0.1 < $1.1 }?.0
    }

    /// The number of single-character insertions, deletions and substitutions from `a` to `b`.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty else { return b.count }
        var row = Array(0...b.count)
        for i in 1...a.count {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return row[b.count]
    }
}

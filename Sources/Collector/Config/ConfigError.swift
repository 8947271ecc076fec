/// Everything wrong with a configuration file, each problem with its location, so that
/// `cano-collector validate` can report all of them at once.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// One problem: where it is and what is wrong.
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        /// "line:column" in the file, or empty when the problem has no single place.
        public var location: String
        /// The key path, e.g. `destinations[1].config.url`.
        public var path: String
        public var message: String

        public init(location: String, path: String, message: String) {
            self.location = location
            self.path = path
            self.message = message
        }

        public var description: String {
            let place = [location, path].filter { !$0.isEmpty }.joined(separator: " ")
            return place.isEmpty ? message : "\(place): \(message)"
        }
    }

    /// The file the problems are in.
    public var file: String
    public var problems: [Problem]

    public init(file: String, problems: [Problem]) {
        self.file = file
        self.problems = problems
    }

    public var description: String {
        let header = problems.count == 1 ? "\(file): 1 problem" : "\(file): \(problems.count) problems"
        return ([header] + problems.map { "  \(file):\($0)" }).joined(separator: "\n")
    }
}

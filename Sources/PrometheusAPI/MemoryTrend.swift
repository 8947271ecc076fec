/// The shape of a container's memory working set up to an OOM kill, from Prometheus
/// samples: a steady climb (a leak), a spike right after start-up (a limit too low for
/// the warm-up), or a peak under load.
public enum MemoryTrend: Sendable, Equatable {
    /// Grew for `minutes` from `from` to `peak` bytes, almost never going down.
    case leak(minutes: Int, from: Double, peak: Double)
    /// Reached 90% of `peak` within `seconds` of the first sample of the run.
    case startupSpike(seconds: Int, peak: Double)
    /// Neither: it peaked at `peak`, `minutes` into the run.
    case peak(minutes: Int, peak: Double)

    /// The trend of `points` (oldest first) within the run of the container that ended in
    /// the kill: [start, end] when the container's status gives them, else the samples up
    /// to the last restart (a drop below 70% of the value before it). A start-up spike is
    /// claimed only when the run's start is known (from `start`, or a restart seen in the
    /// samples): the first sample of an hour-long window is not a start. Nil with fewer
    /// than two samples in the run. Whether the peak came near the limit is the caller's
    /// question.
    public static func classify(_ points: [Series.Sample], start: Double? = nil, end: Double? = nil) -> MemoryTrend? {
        let run: [Series.Sample]
        let runStart: Double?
        if start != nil || end != nil {
            run = points.filter { $0.time >= (start ?? -.infinity) && $0.time <= (end ?? .infinity) }
            runStart = start
        } else {
            let drops = points.indices.dropLast().filter { points[$0 + 1].value < 0.7 * points[$0].value }
            if let last = drops.last {
                let restart = drops.dropLast().last.map { $0 + 1 }
                run = Array(points[(restart ?? 0)...last])
                runStart = restart.map { points[$0].time }
            } else {
                run = points
                runStart = nil
            }
        }
        guard run.count >= 2, let first = run.first, let last = run.last,
              let top = run.max(by: { $0.value < $1.value }), top.value > 0 else { return nil }
        let duration = last.time - first.time
        if let runStart {
            let toNinety = (run.first { $0.value >= 0.9 * top.value }?.time ?? top.time) - runStart
            if toNinety <= max(180, 0.2 * (last.time - runStart)) {
                return .startupSpike(seconds: Int(max(0, toNinety)), peak: top.value)
            }
        }
        let steps = zip(run, run.dropFirst())
        let rising = steps.filter { $1.value >= $0.value - 0.01 * top.value }.count
        if duration >= 900, first.value <= 0.6 * top.value, Double(rising) >= 0.8 * Double(run.count - 1) {
            return .leak(minutes: Int(duration / 60), from: first.value, peak: top.value)
        }
        return .peak(minutes: Int((top.time - first.time) / 60), peak: top.value)
    }
}

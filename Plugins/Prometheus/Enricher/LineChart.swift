import CCairo
import PrometheusAPI

/// A line chart of time series with threshold lines (a limit, a request), drawn with
/// cairo and encoded as PNG. What Slack shows inline in the thread of an OOM kill.
public struct LineChart: Sendable {
    /// One plotted line.
    public struct Line: Sendable {
        public var label: String
        public var points: [Series.Sample]
        public init(label: String, points: [Series.Sample]) {
            self.label = label
            self.points = points
        }
    }

    /// A horizontal line at `value` (a limit or a request), dashed.
    public struct Threshold: Sendable {
        public var label: String
        public var value: Double
        public var isLimit: Bool
        public init(label: String, value: Double, isLimit: Bool) {
            self.label = label
            self.value = value
            self.isLimit = isLimit
        }
    }

    public var title: String
    public var lines: [Line]
    public var thresholds: [Threshold]
    /// Formats a value for the y axis ("1.5Gi", "250m").
    public var format: @Sendable (Double) -> String
    /// Pixels.
    public var width = 800
    public var height = 320

    public init(title: String, lines: [Line], thresholds: [Threshold], format: @escaping @Sendable (Double) -> String) {
        self.title = title
        self.lines = lines
        self.thresholds = thresholds
        self.format = format
    }

    /// Line colours (r, g, b), one per series in turn.
    static let palette: [(Double, Double, Double)] = [(0.12, 0.47, 0.71), (1.0, 0.5, 0.05), (0.17, 0.63, 0.17), (0.58, 0.4, 0.74)]

    /// The chart as PNG bytes; nil when cairo cannot make a surface (out of memory).
    public func png() -> [UInt8]? {
        guard let surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, Int32(width), Int32(height)) else { return nil }
        defer { cairo_surface_destroy(surface) }
        guard cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS, let cr = cairo_create(surface) else { return nil }
        defer { cairo_destroy(cr) }
        draw(cr)
        cairo_surface_flush(surface)
        final class Sink { var bytes: [UInt8] = [] }
        let sink = Sink()
        let status = withExtendedLifetime(sink) {
            cairo_surface_write_to_png_stream(surface, { closure, data, length in
                guard let closure, let data else { return CAIRO_STATUS_WRITE_ERROR }
                let sink = Unmanaged<Sink>.fromOpaque(closure).takeUnretainedValue()
                sink.bytes.append(contentsOf: UnsafeBufferPointer(start: data, count: Int(length)))
                return CAIRO_STATUS_SUCCESS
            }, Unmanaged.passUnretained(sink).toOpaque())
        }
        return status == CAIRO_STATUS_SUCCESS ? sink.bytes : nil
    }

    private func draw(_ cr: OpaquePointer) {
        let left = 72.0, right = 110.0, top = 40.0, bottom = 36.0
        let plotW = Double(width) - left - right, plotH = Double(height) - top - bottom
        cairo_set_source_rgb(cr, 1, 1, 1)
        cairo_paint(cr)
        cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL)

        let all = lines.flatMap(\.points)
        let t0 = all.map(\.time).min() ?? 0, t1 = max(all.map(\.time).max() ?? 1, t0 + 1)
        let top_ = max(all.map(\.value).max() ?? 0, thresholds.map(\.value).max() ?? 0) * 1.1
        let yMax = top_ > 0 ? top_ : 1
        func x(_ t: Double) -> Double { left + (t - t0) / (t1 - t0) * plotW }
        func y(_ v: Double) -> Double { top + plotH - v / yMax * plotH }

        // Title.
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1)
        cairo_set_font_size(cr, 15)
        cairo_move_to(cr, left, 24)
        cairo_show_text(cr, title)

        // Grid and axes labels: five values, six times (UTC).
        cairo_set_font_size(cr, 11)
        cairo_set_line_width(cr, 1)
        for i in 0...4 {
            let v = yMax * Double(i) / 4
            cairo_set_source_rgb(cr, 0.88, 0.88, 0.88)
            cairo_move_to(cr, left, y(v) + 0.5)
            cairo_line_to(cr, left + plotW, y(v) + 0.5)
            cairo_stroke(cr)
            cairo_set_source_rgb(cr, 0.35, 0.35, 0.35)
            let label = format(v)
            var extents = cairo_text_extents_t()
            cairo_text_extents(cr, label, &extents)
            cairo_move_to(cr, left - 8 - extents.width, y(v) + 4)
            cairo_show_text(cr, label)
        }
        for i in 0...5 {
            let t = t0 + (t1 - t0) * Double(i) / 5
            cairo_set_source_rgb(cr, 0.35, 0.35, 0.35)
            cairo_move_to(cr, x(t) - 16, top + plotH + 18)
            cairo_show_text(cr, Self.clock(t))
        }
        cairo_set_source_rgb(cr, 0.5, 0.5, 0.5)
        cairo_rectangle(cr, left + 0.5, top + 0.5, plotW, plotH)
        cairo_stroke(cr)

        // Thresholds: the limit red, the request grey, dashed, labelled on the right.
        for threshold in thresholds {
            threshold.isLimit ? cairo_set_source_rgb(cr, 0.84, 0.15, 0.16) : cairo_set_source_rgb(cr, 0.45, 0.45, 0.45)
            var dash: [Double] = [6, 4]
            cairo_set_dash(cr, &dash, 2, 0)
            cairo_set_line_width(cr, 1.5)
            cairo_move_to(cr, left, y(threshold.value))
            cairo_line_to(cr, left + plotW, y(threshold.value))
            cairo_stroke(cr)
            cairo_set_dash(cr, nil, 0, 0)
            cairo_move_to(cr, left + plotW + 6, y(threshold.value) + 4)
            cairo_show_text(cr, "\(threshold.label) \(format(threshold.value))")
        }

        // The series.
        cairo_set_line_width(cr, 2)
        for (i, line) in lines.enumerated() where !line.points.isEmpty {
            let c = Self.palette[i % Self.palette.count]
            cairo_set_source_rgb(cr, c.0, c.1, c.2)
            cairo_move_to(cr, x(line.points[0].time), y(line.points[0].value))
            for p in line.points.dropFirst() { cairo_line_to(cr, x(p.time), y(p.value)) }
            cairo_stroke(cr)
            cairo_move_to(cr, left + plotW + 6, top + 14 + Double(i) * 16)
            cairo_show_text(cr, line.label)
        }
    }

    /// "HH:MM" (UTC) of a Unix time.
    static func clock(_ t: Double) -> String {
        let seconds = Int(t) % 86_400
        let h = seconds / 3600, m = seconds / 60 % 60
        return (h < 10 ? "0" : "") + String(h) + ":" + (m < 10 ? "0" : "") + String(m)
    }
}

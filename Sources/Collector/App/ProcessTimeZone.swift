#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The process's local time zone, as Foundation will see it.
///
/// Foundation models every time zone through ICU except GMT. A collector whose host runs
/// on UTC (a container without `/etc/localtime`, or one pointing at `Etc/UTC`) still
/// loads ICU's time-zone code and data the first time anything asks for the current time
/// zone (Hummingbird's `Date` header does, at start), and keeps about 2 MiB of it resident
/// (docs/benchmarks.md, "RSS idle"). Naming that same zone `GMT` changes no offset, no
/// timestamp and no schedule (`location: Local` in `time_intervals` keeps meaning UTC),
/// and leaves ICU's time-zone data on disk.
public enum ProcessTimeZone {
    /// Sets `TZ=GMT` when `TZ` is unset and the local zone is UTC. Call it first thing in
    /// the command, before anything asks for the time zone or reads the environment on
    /// another thread (`setenv` is not thread-safe). A `TZ` the user set, or any other
    /// local zone, is left alone.
    public static func nameUTCAsGMT() {
        guard let zone = pinned(tz: getenv("TZ").map { String(cString: $0) }, isUTC: localZoneIsUTC()) else { return }
        setenv("TZ", zone, 0)
        tzset()
    }

    /// The `TZ` value to set, or nil: `GMT` only when `tz` is unset and the zone is UTC.
    static func pinned(tz: String?, isUTC: Bool) -> String? {
        tz == nil && isUTC ? "GMT" : nil
    }

    /// Whether local time is UTC now and half a year from now (London is UTC in winter
    /// only; both instants must have no offset and no daylight saving).
    static func localZoneIsUTC(now: time_t = time(nil)) -> Bool {
        [now, now + 182 * 24 * 3600].allSatisfy { instant in
            var t = instant
            var parts = tm()
            guard localtime_r(&t, &parts) != nil else { return false }
            return parts.tm_gmtoff == 0 && parts.tm_isdst == 0
        }
    }
}

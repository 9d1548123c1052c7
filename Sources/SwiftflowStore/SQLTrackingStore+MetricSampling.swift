import SQLKit
import SwiftflowCore

extension SQLTrackingStore {
    public func sampledMetricHistory(
        runIds: [String], key: String, maxResults: Int, steps: ClosedRange<Int64>?
    ) async throws -> [MetricWithRunId] {
        let buckets = max(1, maxResults)
        return try await executor.read { db in
            var result: [MetricWithRunId] = []
            for runId in runIds {
                // The first point of each of `buckets` equal slices (NTILE), as MLflow's SQL store samples.
                var sample = SQLQuery(
                    "WITH b AS (SELECT key, value, timestamp, step, is_nan, NTILE(")
                sample.bind(buckets)
                sample += ") OVER (ORDER BY step, timestamp, value, is_nan) AS bucket FROM metrics WHERE "
                Self.historyScope(runId: runId, key: key, steps: steps, into: &sample)
                sample += "), r AS (SELECT key, value, timestamp, step, is_nan, ROW_NUMBER() OVER "
                sample += "(PARTITION BY bucket ORDER BY step, timestamp, value, is_nan) AS rn FROM b) "
                sample += "SELECT key, value, timestamp, step, is_nan FROM r WHERE rn = 1 "
                sample += "ORDER BY step, timestamp, value, is_nan"
                var points = try await db.all(sample).map(Self.metric(from:))
                // The buckets' first points miss the last one; it replaces the last sample when full.
                var last = SQLQuery("SELECT key, value, timestamp, step, is_nan FROM metrics WHERE ")
                Self.historyScope(runId: runId, key: key, steps: steps, into: &last)
                last += " ORDER BY step DESC, timestamp DESC, value DESC, is_nan DESC LIMIT 1"
                if let final = try await db.all(last).first.map(Self.metric(from:)),
                   points.last.map({ !Self.samePoint($0, final) }) ?? true {
                    if points.count >= buckets { points[points.count - 1] = final } else { points.append(final) }
                }
                result += points.map { MetricWithRunId(runId: runId, metric: $0) }
            }
            return result
        }
    }

    public func metricHistoryBulk(runIds: [String], key: String, maxResults: Int) async throws -> [MetricWithRunId] {
        guard !runIds.isEmpty else { return [] }
        var query = SQLQuery("SELECT run_id, key, value, timestamp, step, is_nan FROM metrics WHERE key = ")
        query.bind(key)
        query += " AND run_id IN "
        query.bindList(runIds)
        query += " ORDER BY run_id, timestamp, step, value LIMIT "
        query.bind(maxResults)
        let finalQuery = query
        return try await executor.read { db in
            try await db.all(finalQuery).map {
                MetricWithRunId(runId: try $0.decode(column: "run_id", as: String.self), metric: try Self.metric(from: $0))
            }
        }
    }

    /// `run_id = ? AND key = ? [AND step BETWEEN ? AND ?]`.
    private static func historyScope(runId: String, key: String, steps: ClosedRange<Int64>?, into query: inout SQLQuery) {
        query += "run_id = "
        query.bind(runId)
        query += " AND key = "
        query.bind(key)
        if let steps {
            query += " AND step >= "
            query.bind(steps.lowerBound)
            query += " AND step <= "
            query.bind(steps.upperBound)
        }
    }

    /// Equal as MLflow compares sampled rows: step, timestamp, value (NaN as one value) and NaN flag.
    private static func samePoint(_ a: Metric, _ b: Metric) -> Bool {
        a.step == b.step && a.timestamp == b.timestamp && a.value.isNaN == b.value.isNaN
            && (a.value.isNaN || a.value == b.value)
    }
}
